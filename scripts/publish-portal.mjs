/**
 * Publishes a built portal (Vite's output folder) into the folder admin-api serves, never
 * leaving it empty or half-written (issue #17): admin-api reads index.html on every request.
 * The new hashed assets are copied in first (each under a temporary name, then renamed; names
 * no served index.html mentions yet, and a name that exists already has the same content and is
 * left alone); then index.html is replaced by rename(2), which is atomic: a request sees the old
 * page or the new one, never none. The assets of the build before stay one more generation (a
 * page opened from it still loads its lazy chunks); older ones are removed.
 */
import { copyFile, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';

/** The files of the build served now and of the one before it (what is kept). */
export const MANIFEST = '.build-files.json';

async function filesUnder(dir) {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath ?? e.path, e.name)));
}

async function readManifest(target) {
  try {
    const parsed = JSON.parse(await readFile(join(target, MANIFEST), 'utf8'));
    return Array.isArray(parsed.current) ? parsed.current : null;
  } catch {
    return null;
  }
}

/** Copies `from` to `to` through a temporary name beside it: no one reads a half-copied file. */
async function place(from, to) {
  await mkdir(dirname(to), { recursive: true });
  const temporary = `${to}.tmp-${process.pid}`;
  await copyFile(from, temporary);
  await rename(temporary, to);
}

/**
 * Publishes the build in `staging` into `target`.
 * @returns the files of the new build (relative paths)
 */
export async function publishPortal(staging, target) {
  const built = await filesUnder(staging);
  if (!built.includes('index.html')) throw new Error(`no index.html in ${staging}: not a build`);
  await mkdir(target, { recursive: true });
  const existing = new Set(await filesUnder(target));
  for (const file of built) {
    if (file !== 'index.html' && !existing.has(file))
      await place(join(staging, file), join(target, file));
  }
  await place(join(staging, 'index.html'), join(target, 'index.html'));

  // Without a manifest (a folder built otherwise) what was there is the build before.
  const previous = (await readManifest(target)) ?? [...existing];
  const keep = new Set([...built, ...previous, MANIFEST]);
  for (const file of existing) {
    // Another build's file in flight (`.tmp-<pid>`) is not ours to remove.
    if (!keep.has(file) && !/\.tmp-\d+$/.test(file)) await rm(join(target, file), { force: true });
  }
  await writeFile(
    join(target, MANIFEST),
    JSON.stringify({ current: built, previous }, null, 2) + '\n',
  );
  return built;
}
