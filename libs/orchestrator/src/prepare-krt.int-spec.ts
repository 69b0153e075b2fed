import { createReadStream } from 'node:fs';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractKrt, packKrt } from '@libs/krt';
import { addVendoredDependency } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DependencyInstallError, prepareKrt } from './prepare-krt.js';

/**
 * Dependency preparation with the real npm, offline: the KRT's node declares a dependency on a
 * package tarball it vendors (a `file:` dependency, installed as files, like a registry one).
 */
describe('prepareKrt', () => {
  let work: string;
  let withDeps: string;
  let withoutDeps: string;
  let broken: string;
  const env = { PATH: process.env.PATH, HOME: process.env.HOME };
  let n = 0;
  const options = (krt: string) => ({
    archive: createReadStream(krt),
    prefix: 'kre',
    workDir: join(work, `prep-${++n}`),
    cacheDir: join(work, 'cache'),
    env,
    timeoutMs: 120_000,
  });

  /** examples/greeter whose make-greeting node depends on a vendored package. */
  async function greeterWithDependency(name: string, word = 'Ahoy'): Promise<string> {
    const dir = join(work, name);
    await cp('examples/greeter', dir, { recursive: true });
    await addVendoredDependency(join(dir, 'src/make-greeting'), {
      name: 'kre-test-word',
      files: { 'index.js': `export const word = '${word}';\n` },
    });
    const krt = join(work, `${name}.krt`);
    await packKrt(dir, krt, { prefix: 'kre' });
    return krt;
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'kre-prepare-'));
    withDeps = await greeterWithDependency('deps');
    withoutDeps = join(work, 'plain.krt');
    await packKrt('examples/greeter', withoutDeps, { prefix: 'kre' });
    // A lockfile that names a tarball the KRT does not hold.
    // (Another package than above: the same lockfile would rightly come from the cache.)
    broken = await greeterWithDependency('broken', 'Broken');
    const brokenDir = join(work, 'broken');
    await rm(join(brokenDir, 'src/make-greeting/vendor'), { recursive: true });
    await packKrt(brokenDir, broken, { prefix: 'kre' });
  }, 120_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('hands the upload on as it is when the KRT declares no dependencies', async () => {
    expect(await prepareKrt(options(withoutDeps))).toEqual({ archivePath: null, installed: [] });
  });

  it('installs declared dependencies with npm ci into a KRT the hardened reader accepts', async () => {
    const prepared = await prepareKrt(options(withDeps));
    expect(prepared.installed).toEqual([{ dir: 'src/make-greeting', from: 'npm' }]);
    const out = join(work, 'extracted');
    await extractKrt(createReadStream(prepared.archivePath!), { dest: out, prefix: 'kre' });
    const installed = join(out, 'src/make-greeting/node_modules/kre-test-word');
    expect(await readFile(join(installed, 'index.js'), 'utf8')).toContain("'Ahoy'");
    const { word } = (await import(join(installed, 'index.js'))) as { word: string };
    expect(word).toBe('Ahoy');
  });

  it('takes the same lockfile from the cache the second time', async () => {
    const prepared = await prepareKrt(options(withDeps));
    expect(prepared.installed).toEqual([{ dir: 'src/make-greeting', from: 'cache' }]);
  });

  it('names the folder and npm’s reason when the dependencies cannot be installed', async () => {
    const failure = prepareKrt(options(broken));
    await expect(failure).rejects.toThrow(DependencyInstallError);
    await expect(failure).rejects.toThrow(
      /"src\/make-greeting" failed: .*kre-test-word-1\.0\.0\.tgz/s,
    );
  });
});
