import { LOCKFILES, REQUIREMENTS_NAME } from './dependency.rules.js';
import { type IssueCollector } from './krt.errors.js';
import type { KrtLimits } from './krt.limits.js';

/** Manifest names accepted at the KRT root, in order of preference. */
export const MANIFEST_NAMES = ['kre.yaml', 'kre.yml', 'krt.yaml', 'krt.yml'] as const;

/** What a reader (archive or folder) found: the file list plus the few small files we need. */
export interface KrtContents {
  /** Regular files (normalised paths) → size in bytes. */
  files: Map<string, number>;
  /** Folders, explicit or implied by a file path. */
  dirs: Set<string>;
  /** Manifest candidates and `.proto` files, held in memory. */
  kept: Map<string, Buffer>;
  /** Files that would have been kept but exceed a limit → why. */
  tooBig: Map<string, string>;
}

/** An empty `KrtContents`. */
export function emptyContents(): KrtContents {
  return { files: new Map(), dirs: new Set(), kept: new Map(), tooBig: new Map() };
}

/**
 * What a reader keeps in memory: manifest candidates, `.proto` files, npm lockfiles and the
 * files a Python requirements file may be or include (`requirements*.txt`, `constraints*.txt`).
 */
export type KeptKind = 'manifest' | 'proto' | 'lockfile' | 'requirements' | 'document';

/** Whether a reader must keep this file in memory, and as what. */
export function keepKind(path: string): KeptKind | undefined {
  const slash = path.lastIndexOf('/');
  const base = path.slice(slash + 1);
  const segments = path.split('/');
  if (segments.length <= 2 && (MANIFEST_NAMES as readonly string[]).includes(base))
    return 'manifest';
  if (base.endsWith('.proto')) return 'proto';
  if ((LOCKFILES as readonly string[]).includes(base) && !segments.includes('node_modules'))
    return 'lockfile';
  if (REQUIREMENTS_NAME.test(base) && !segments.includes('node_modules')) return 'requirements';
  return undefined;
}

/** The size limit of one kept file of this kind. */
export function keptLimit(kind: KeptKind, limits: KrtLimits): number {
  switch (kind) {
    case 'manifest':
      return limits.maxManifestBytes;
    case 'proto':
      return limits.maxProtoBytes;
    case 'lockfile':
    case 'requirements':
      return limits.maxLockfileBytes;
    case 'document':
      return limits.maxDocumentBytes;
  }
}

/** The KRT once its root is known: every path relative to that root. */
export interface KrtLayout {
  topFolder?: string;
  manifest: string;
  files: Map<string, number>;
  kept: Map<string, Buffer>;
  tooBig: Map<string, string>;
}

/**
 * Finds the KRT root: the archive root, or a single top folder wrapping everything (as
 * `tar czf x.krt project/` produces). Reports a missing or ambiguous manifest.
 */
export function resolveLayout(
  contents: KrtContents,
  issues: IssueCollector,
): KrtLayout | undefined {
  let topFolder: string | undefined;
  let found = MANIFEST_NAMES.filter((name) => contents.files.has(name));
  if (!found.length) {
    const tops = new Set<string>();
    for (const path of [...contents.files.keys(), ...contents.dirs]) tops.add(path.split('/')[0]);
    const [only] = tops;
    if (tops.size === 1 && !contents.files.has(only)) {
      topFolder = only;
      found = MANIFEST_NAMES.filter((name) => contents.files.has(`${only}/${name}`));
    }
  }
  if (found.length > 1) {
    issues.error('manifest', `found ${found.join(' and ')}: keep exactly one manifest`);
    return undefined;
  }
  if (!found.length) {
    const elsewhere = [...contents.files.keys()].find((p) =>
      (MANIFEST_NAMES as readonly string[]).includes(p.slice(p.lastIndexOf('/') + 1)),
    );
    const hint = elsewhere
      ? ` (found "${elsewhere}", which is not at the root: pack from the folder that holds it)`
      : '';
    issues.error('manifest', `no kre.yaml (or kre.yml, krt.yaml, krt.yml) at the KRT root${hint}`);
    return undefined;
  }
  const strip = (path: string): string | undefined => {
    if (!topFolder) return path;
    return path.startsWith(`${topFolder}/`) ? path.slice(topFolder.length + 1) : undefined;
  };
  const rebase = <V>(map: Map<string, V>): Map<string, V> => {
    const out = new Map<string, V>();
    for (const [path, value] of map) {
      const rel = strip(path);
      if (rel !== undefined) out.set(rel, value);
    }
    return out;
  };
  return {
    topFolder,
    manifest: found[0],
    files: rebase(contents.files),
    kept: rebase(contents.kept),
    tooBig: rebase(contents.tooBig),
  };
}
