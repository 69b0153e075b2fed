import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PythonEnvs, type PythonEnvOptions } from './python-env.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-12-06T12:00:00Z');

describe('PythonEnvs.prune: the cache does not keep every requirements set forever', () => {
  let cacheDir: string;
  const options = (extra: Partial<PythonEnvOptions> = {}): PythonEnvOptions => ({
    cacheDir,
    python: 'python3',
    runnerPackage: resolve('runners/python'),
    indexUrl: 'https://pypi.org/simple',
    hostPath: process.env.PATH ?? '/usr/bin:/bin',
    sandboxUser: { uid: 64_000, gid: 64_000 },
    timeoutMs: 60_000,
    keepUnusedMs: 14 * DAY,
    ...extra,
  });
  /** A cache entry (read-only, as built ones are) last used `daysAgo` before NOW. */
  const entry = async (name: string, daysAgo: number) => {
    const dir = join(cacheDir, name);
    await mkdir(join(dir, 'bin'), { recursive: true });
    await writeFile(join(dir, 'bin', 'python'), '');
    await chmod(join(dir, 'bin', 'python'), 0o555);
    await chmod(join(dir, 'bin'), 0o555);
    const when = new Date(NOW - daysAgo * DAY);
    await utimes(dir, when, when);
    return dir;
  };
  const key = (c: string) => c.repeat(32);

  beforeEach(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'kre-pyenv-prune-'));
  });
  afterEach(async () => {
    for (const name of await readdir(cacheDir)) {
      await chmod(join(cacheDir, name, 'bin'), 0o755).catch(() => undefined);
    }
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('deletes what no replica uses and nobody used for longer than kept; keeps the rest', async () => {
    await entry(key('a'), 30); // unused for a month: goes
    const used = await entry(key('b'), 30); // as old, but a running replica uses it: stays
    await entry(key('c'), 3); // used lately: stays
    await entry('.build-x', 30); // a build's scratch folder: not prune's business
    await entry('notes', 30); // not a cache entry
    const pruned = await new PythonEnvs(options()).prune(new Set([used]), NOW);
    expect(pruned).toEqual([key('a')]);
    expect((await readdir(cacheDir)).sort()).toEqual(['.build-x', key('b'), key('c'), 'notes']);
  });

  it('keeps everything when no keep time is set', async () => {
    await entry(key('a'), 3_000);
    expect(
      await new PythonEnvs(options({ keepUnusedMs: undefined })).prune(new Set(), NOW),
    ).toEqual([]);
    expect(await readdir(cacheDir)).toEqual([key('a')]);
  });

  it('a start that takes an environment from the cache marks it used, so it is kept', async () => {
    const envs = new PythonEnvs(options());
    const requirements = { requirements: ['six==1.16.0'], constraints: [] };
    const dir = await entry(await envs.keyOf(requirements), 30);
    const before = (await stat(dir)).mtimeMs;
    const env = await envs.ensure(requirements, 'requirements.txt');
    expect(env).toMatchObject({ dir, from: 'cache' });
    expect((await stat(dir)).mtimeMs).toBeGreaterThan(before);
    // Judged at the real time now: used a moment ago, so kept.
    expect(await envs.prune(new Set())).toEqual([]);
  });
});
