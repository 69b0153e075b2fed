#!/usr/bin/env node
/**
 * Builds the portal (apps/admin-ui) without ever leaving admin-api an empty or half-written
 * dist/admin-ui (issue #17): Vite empties its output folder first, and admin-api reads that
 * folder on every request. So Vite builds into a private folder beside it; then the new hashed
 * assets are copied in (new names, which no served index.html names yet; a name that exists
 * already has the same content, and is left alone), and index.html is swapped by rename(2),
 * which is atomic: a request sees the old page or the new one, never none. Assets of the build
 * before are kept one more generation (a page opened from it still loads its lazy chunks);
 * older ones are pruned.
 *
 * Usage: node scripts/build-ui.mjs   (npm run build:ui runs it after the types and typecheck)
 */
import { copyFile, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = fileURLToPath(new URL('..', import.meta.url));
const target = join(root, 'dist', 'admin-ui');
const staging = join(root, 'dist', `.admin-ui-build-${process.pid}`);
/** The files of the build served now and of the one before it (what is kept). */
const MANIFEST = '.build-files.json';

async function filesUnder(dir) {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath ?? e.path, e.name)));
}

async function readManifest() {
  try {
    const parsed = JSON.parse(await readFile(join(target, MANIFEST), 'utf8'));
    return Array.isArray(parsed.current) ? parsed.current : null;
  } catch {
    return null;
  }
}

try {
  await build({
    configFile: join(root, 'apps/admin-ui/vite.config.ts'),
    build: { outDir: staging, emptyOutDir: true },
  });
  const built = await filesUnder(staging);
  if (!built.includes('index.html')) throw new Error(`vite wrote no index.html into ${staging}`);
  await mkdir(target, { recursive: true });
  const existing = new Set(await filesUnder(target));
  for (const file of built) {
    if (file === 'index.html' || existing.has(file)) continue;
    await mkdir(dirname(join(target, file)), { recursive: true });
    // Copied under a temporary name, then renamed: no one reads a half-copied asset either.
    await copyFile(join(staging, file), join(target, `${file}.tmp-${process.pid}`));
    await rename(join(target, `${file}.tmp-${process.pid}`), join(target, file));
  }
  await copyFile(join(staging, 'index.html'), join(target, `index.html.tmp-${process.pid}`));
  await rename(join(target, `index.html.tmp-${process.pid}`), join(target, 'index.html'));

  // Without a manifest (the first build by this script) what was there is the build before.
  const previous = (await readManifest()) ?? [...existing];
  const keep = new Set([...built, ...previous, MANIFEST]);
  for (const file of existing)
    if (!keep.has(file) && !/\.tmp-\d+$/.test(file)) await rm(join(target, file), { force: true });
  await writeFile(
    join(target, MANIFEST),
    JSON.stringify({ current: built, previous }, null, 2) + '\n',
  );
  process.stdout.write(`portal published to ${relative(root, target)} (${built.length} files)\n`);
} finally {
  await rm(staging, { recursive: true, force: true });
}
