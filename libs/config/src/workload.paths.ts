import { isAbsolute, relative, resolve } from 'node:path';

/** A path from a workload's env or a handler points outside the extracted KRT. */
export class KrtPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KrtPathError';
  }
}

/**
 * A file of the KRT by its path relative to `base` (`KRT_BASE_PATH`); `what` names the path in
 * the error (`KRT_ENTRYPOINT_PROTO`, `the handler`).
 * @throws KrtPathError when the path leaves the KRT: a KRT's files never point outside it.
 */
export function resolveInsideKrt(base: string, rel: string, what?: string): string {
  const full = resolve(base, rel);
  const inside = relative(resolve(base), full);
  if (inside.startsWith('..') || isAbsolute(inside))
    throw new KrtPathError(`${what ? `${what} ` : ''}"${rel}" points outside the KRT (${base})`);
  return full;
}
