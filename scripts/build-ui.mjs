#!/usr/bin/env node
/**
 * Builds the portal (apps/admin-ui) without ever leaving admin-api an empty or half-written
 * dist/admin-ui (issue #17): Vite empties its output folder first, and admin-api reads that
 * folder on every request. So Vite builds into a private folder beside it, which
 * publishPortal (publish-portal.mjs) then moves in: assets first, index.html by an atomic
 * rename, the build before kept one more generation.
 *
 * Usage: node scripts/build-ui.mjs   (npm run build:ui runs it after the types and typecheck)
 */
import { rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { publishPortal } from './publish-portal.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const target = join(root, 'dist', 'admin-ui');
const staging = join(root, 'dist', `.admin-ui-build-${process.pid}`);

try {
  await build({
    configFile: join(root, 'apps/admin-ui/vite.config.ts'),
    build: { outDir: staging, emptyOutDir: true },
  });
  const built = await publishPortal(staging, target);
  process.stdout.write(`portal published to ${relative(root, target)} (${built.length} files)\n`);
} finally {
  await rm(staging, { recursive: true, force: true });
}
