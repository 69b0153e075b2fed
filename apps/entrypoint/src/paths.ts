import { isAbsolute, relative, resolve } from 'node:path';

/** A file of the KRT by its relative path; a path that leaves the KRT is refused. */
export function resolveInsideKrt(base: string, rel: string): string {
  const full = resolve(base, rel);
  const inside = relative(resolve(base), full);
  if (inside.startsWith('..') || isAbsolute(inside))
    throw new Error(`"${rel}" points outside the KRT (${base})`);
  return full;
}
