import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdtemp, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { scanArchive, type KrtSource } from './archive.reader.js';
import { scanDirectory } from './directory.reader.js';
import { resolveKrtOptions, type KrtOptions } from './krt.limits.js';
import type { KrtArchive } from './krt.model.js';
import { validateContents } from './krt.validator.js';

/**
 * Reads a KRT (gzip-compressed tar, from a file path or a stream) in one streaming pass and
 * validates it; nothing is written to disk.
 * @throws KrtInvalidError listing every problem when the archive or its manifest is not valid.
 */
export async function openKrt(source: KrtSource, options?: KrtOptions): Promise<KrtArchive> {
  const resolved = resolveKrtOptions(options);
  const { contents, issues } = await scanArchive(source, {
    limits: resolved.limits,
    stats: resolved.stats,
  });
  const { krt, layout } = validateContents(contents, issues, resolved);
  return {
    krt,
    files: [...layout.files.keys()].sort(),
    topFolder: layout.topFolder,
    stats: resolved.stats,
  };
}

/** What `readKrtDocument` found. */
export type KrtDocument =
  | { found: true; content: string }
  | { found: false; reason: 'missing' | 'too-big'; message: string };

/**
 * Reads one file (a path relative to the KRT root, e.g. `docs/README.md`) out of a stored KRT
 * with the same hardened, validating pass as `openKrt`, holding only that file (up to
 * `maxDocumentBytes`) in memory.
 * @throws KrtInvalidError when the archive is not a valid KRT (any more).
 */
export async function readKrtDocument(
  source: KrtSource,
  path: string,
  options?: KrtOptions,
): Promise<KrtDocument> {
  const resolved = resolveKrtOptions(options);
  const depth = path.split('/').length;
  const { contents, issues } = await scanArchive(source, {
    limits: resolved.limits,
    stats: resolved.stats,
    // The root is known only at the end: the path itself, or under one top folder.
    keepAlso: (entry) => {
      const parts = entry.split('/');
      return parts.length <= depth + 1 && parts.slice(-depth).join('/') === path;
    },
  });
  const { layout } = validateContents(contents, issues, resolved);
  const bytes = layout.kept.get(path);
  if (bytes) return { found: true, content: bytes.toString('utf8') };
  const tooBig = layout.tooBig.get(path);
  if (tooBig) return { found: false, reason: 'too-big', message: tooBig };
  return { found: false, reason: 'missing', message: `${path} is not in the KRT` };
}

/** Options of `extractKrt`. */
export interface KrtExtractOptions extends KrtOptions {
  /** Where the KRT root should end up; must not exist yet. Default: a fresh private temp folder. */
  dest?: string;
}

/** An extracted, validated KRT: `dir` is its root (the manifest is directly inside). */
export interface ExtractedKrt extends KrtArchive {
  dir: string;
}

/**
 * Validates and extracts a KRT in one pass into a fresh private folder (mode 0700), then moves
 * it to `dest` (same filesystem). Nothing is written anywhere else; on any error the partial
 * extraction is removed. Used by upload and by `runner fetch-krt`.
 * @throws KrtInvalidError when the archive or its manifest is not valid.
 */
export async function extractKrt(
  source: KrtSource,
  options: KrtExtractOptions = {},
): Promise<ExtractedKrt> {
  const resolved = resolveKrtOptions(options);
  const dest = options.dest === undefined ? undefined : resolve(options.dest);
  if (dest !== undefined && (await exists(dest))) {
    throw new Error(`cannot extract the KRT to ${dest}: it already exists`);
  }
  const stage = await mkdtemp(join(dest ? dirname(dest) : tmpdir(), '.kre-krt-'));
  try {
    const { contents, issues } = await scanArchive(source, {
      limits: resolved.limits,
      stats: resolved.stats,
      extractTo: stage,
    });
    const { krt, layout } = validateContents(contents, issues, resolved);
    const root = layout.topFolder ? join(stage, layout.topFolder) : stage;
    let dir: string;
    if (dest) {
      await rename(root, dest);
      await chmod(dest, 0o700);
      if (layout.topFolder) await rmdir(stage);
      dir = dest;
    } else {
      if (layout.topFolder) await hoist(stage, layout.topFolder);
      dir = stage;
    }
    return {
      krt,
      dir,
      files: [...layout.files.keys()].sort(),
      topFolder: layout.topFolder,
      stats: resolved.stats,
    };
  } catch (error) {
    await rm(stage, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Validates a project folder as `kre krt pack` would archive it (`.krtignore` applied).
 * @throws KrtInvalidError listing every problem.
 */
export async function validateKrtDirectory(dir: string, options?: KrtOptions): Promise<KrtArchive> {
  const resolved = resolveKrtOptions(options);
  const { contents, issues } = await scanDirectory(dir, resolved.limits, resolved.stats);
  const { krt, layout } = validateContents(contents, issues, resolved);
  return {
    krt,
    files: [...layout.files.keys()].sort(),
    topFolder: layout.topFolder,
    stats: resolved.stats,
  };
}

/** Moves the children of `stage/top` up into `stage` (the archive wrapped everything in `top`). */
async function hoist(stage: string, top: string): Promise<void> {
  // Rename first: `top` may contain an entry named `top` itself.
  const wrapped = join(stage, `.kre-wrap-${randomBytes(8).toString('hex')}`);
  await rename(join(stage, top), wrapped);
  for (const name of await readdir(wrapped)) await rename(join(wrapped, name), join(stage, name));
  await rmdir(wrapped);
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
