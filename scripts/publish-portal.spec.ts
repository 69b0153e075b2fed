import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { publishPortal } from './publish-portal.mjs';

/** A fake Vite build: index.html naming `count` hashed assets of generation `tag`. */
async function fakeBuild(dir: string, tag: string, count: number): Promise<void> {
  await mkdir(join(dir, 'assets'), { recursive: true });
  const names = Array.from({ length: count }, (_, i) => `assets/chunk-${tag}-${i}.js`);
  for (const name of names) await writeFile(join(dir, name), `/* ${name} */\n`.repeat(2_000));
  await writeFile(
    join(dir, 'index.html'),
    names.map((n) => `<script type="module" src="/${n}"></script>`).join('\n'),
  );
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

describe('publishPortal', () => {
  let work: string;
  let target: string;
  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'kre-publish-'));
    target = join(work, 'admin-ui');
  });
  afterEach(() => rm(work, { recursive: true, force: true }));

  it('while it publishes, every read finds an index.html whose assets all exist', async () => {
    await fakeBuild(target, 'old', 5);
    await fakeBuild(join(work, 'new'), 'new', 40);
    let done = false;
    const seen = { reads: 0, missingIndex: 0, missingAssets: 0, pages: new Set<string>() };
    // What admin-api does on each request, as often as the event loop lets it meanwhile.
    const reader = (async () => {
      while (!done) {
        seen.reads++;
        const html = await readFile(join(target, 'index.html'), 'utf8').catch(() => null);
        if (html === null) {
          seen.missingIndex++;
          continue;
        }
        seen.pages.add(html.includes('chunk-new-') ? 'new' : 'old');
        for (const [, name] of html.matchAll(/src="\/([^"]+)"/g))
          if (!(await exists(join(target, name)))) seen.missingAssets++;
      }
    })();
    await publishPortal(join(work, 'new'), target);
    done = true;
    await reader;
    expect(seen.reads).toBeGreaterThan(1);
    expect(seen).toMatchObject({ missingIndex: 0, missingAssets: 0 });
    expect(await readFile(join(target, 'index.html'), 'utf8')).toContain('chunk-new-39');
    // The build before stays (pages opened from it load their chunks); no temporary file is left.
    const assets = await readdir(join(target, 'assets'));
    expect(assets.filter((a) => a.includes('-old-'))).toHaveLength(5);
    expect(assets.filter((a) => a.includes('.tmp-'))).toEqual([]);
  });

  it('keeps one build before the current one and removes older ones', async () => {
    for (const tag of ['one', 'two', 'three']) {
      await fakeBuild(join(work, tag), tag, 2);
      await publishPortal(join(work, tag), target);
    }
    const assets = await readdir(join(target, 'assets'));
    expect(assets.sort()).toEqual([
      'chunk-three-0.js',
      'chunk-three-1.js',
      'chunk-two-0.js',
      'chunk-two-1.js',
    ]);
  });

  it('refuses a folder that is not a build, leaving the served one alone', async () => {
    await fakeBuild(target, 'old', 1);
    await mkdir(join(work, 'empty'));
    await expect(publishPortal(join(work, 'empty'), target)).rejects.toThrow(/no index.html/);
    expect(await readFile(join(target, 'index.html'), 'utf8')).toContain('chunk-old-0');
  });
});
