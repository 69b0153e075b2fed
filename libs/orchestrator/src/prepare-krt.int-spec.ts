import { createReadStream, existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KrtInvalidError, extractKrt, packKrt } from '@libs/krt';
import { TestNpmRegistry, addNpmConfigAttack, addRegistryDependency } from '@libs/testing';
import { create } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DependencyInstallError, installDependenciesInPlace, prepareKrt } from './prepare-krt.js';

/**
 * Dependency preparation with the real npm in the real sandbox (bubblewrap), against a registry
 * on loopback: the KRT's node declares a dependency by a lockfile whose entry names the public
 * registry, as teams' lockfiles do; the engine fetches it from its own registry.
 */
describe('prepareKrt', () => {
  let work: string;
  let registry: TestNpmRegistry;
  let withDeps: string;
  let withoutDeps: string;
  let broken: string;
  let tampered: string;
  let n = 0;
  const options = (krt: string) => ({
    archive: createReadStream(krt),
    prefix: 'kre',
    runtimeId: 'demo',
    workDir: join(work, `prep-${++n}`),
    cacheDir: join(work, 'cache'),
    registry: registry.url,
    hostPath: process.env.PATH ?? '/usr/bin:/bin',
    sandboxUser: { uid: 64_000, gid: 64_000 },
    timeoutMs: 120_000,
  });

  /** examples/greeter whose make-greeting node depends on a registry package. */
  async function greeterWithDependency(
    name: string,
    word: string,
    edit?: (dir: string) => Promise<void>,
  ): Promise<string> {
    const dir = join(work, name);
    await cp('examples/greeter', dir, { recursive: true });
    await addRegistryDependency(join(dir, 'src/make-greeting'), registry, {
      name: `kre-test-${name}`,
      files: { 'index.js': `export const word = '${word}';\n` },
    });
    await edit?.(dir);
    const krt = join(work, `${name}.krt`);
    await packKrt(dir, krt, { prefix: 'kre' });
    return krt;
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'kre-prepare-'));
    registry = await TestNpmRegistry.start();
    withDeps = await greeterWithDependency('deps', 'Ahoy');
    withoutDeps = join(work, 'plain.krt');
    await packKrt('examples/greeter', withoutDeps, { prefix: 'kre' });
    // A lockfile naming a package the registry does not hold (any more).
    broken = await greeterWithDependency('broken', 'Broken');
    registry.unpublish('kre-test-broken');
    // The registry serves other bytes than the lockfile's integrity pins.
    tampered = await greeterWithDependency('tampered', 'Honest');
    await registry.publish({ name: 'kre-test-tampered', files: { 'index.js': 'evil();\n' } });
  }, 120_000);

  afterAll(async () => {
    await registry?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('hands the upload on as it is when the KRT declares no dependencies', async () => {
    expect(await prepareKrt(options(withoutDeps))).toEqual({
      archivePath: null,
      installed: [],
      python: [],
    });
  });

  it('installs declared dependencies with npm ci into a KRT the hardened reader accepts', async () => {
    const prepared = await prepareKrt(options(withDeps));
    expect(prepared.installed).toEqual([{ dir: 'src/make-greeting', from: 'npm' }]);
    // The lockfile names the public registry; the engine fetched from its own.
    expect(registry.requests).toContain('/kre-test-deps/-/kre-test-deps-1.0.0.tgz');
    const out = join(work, 'extracted');
    await extractKrt(createReadStream(prepared.archivePath!), { dest: out, prefix: 'kre' });
    const installed = join(out, 'src/make-greeting/node_modules/kre-test-deps');
    expect(await readFile(join(installed, 'index.js'), 'utf8')).toContain("'Ahoy'");
    const { word } = (await import(join(installed, 'index.js'))) as { word: string };
    expect(word).toBe('Ahoy');
  });

  it('takes the same lockfile from the cache the second time', async () => {
    const fetched = registry.requests.length;
    const prepared = await prepareKrt(options(withDeps));
    expect(prepared.installed).toEqual([{ dir: 'src/make-greeting', from: 'cache' }]);
    expect(registry.requests).toHaveLength(fetched);
    // Cached results are the engine's: written by it, read-only to everyone else.
    const cached = (await readdir(join(work, 'cache'))).filter((f) => f.endsWith('.tgz'));
    expect(cached).toHaveLength(1);
    const info = await stat(join(work, 'cache', cached[0]));
    expect(info.uid).toBe(process.getuid?.());
    expect(info.mode & 0o022).toBe(0);
  });

  it('installs in place as the Kubernetes fetch step does, with the same checks', async () => {
    const dest = join(work, 'in-place');
    await extractKrt(createReadStream(withDeps), { dest, prefix: 'kre' });
    const installed = await installDependenciesInPlace(dest, {
      registry: registry.url,
      cacheDir: join(work, 'pod-npm-cache'),
      timeoutMs: 120_000,
    });
    expect(installed).toEqual(['src/make-greeting']);
    const file = join(dest, 'src/make-greeting/node_modules/kre-test-deps/index.js');
    expect(await readFile(file, 'utf8')).toContain("'Ahoy'");
  });

  it('installs a lockfile that declares nothing (an empty node_modules)', async () => {
    const dir = join(work, 'nothing');
    await cp('examples/greeter', dir, { recursive: true });
    const node = join(dir, 'src/make-greeting');
    await writeFile(join(node, 'package.json'), '{"name": "nothing", "version": "1.0.0"}');
    await writeFile(
      join(node, 'package-lock.json'),
      JSON.stringify({
        name: 'nothing',
        version: '1.0.0',
        lockfileVersion: 3,
        packages: { '': { name: 'nothing', version: '1.0.0' } },
      }),
    );
    const krt = join(work, 'nothing.krt');
    await packKrt(dir, krt, { prefix: 'kre' });
    const prepared = await prepareKrt(options(krt));
    expect(prepared.installed).toEqual([{ dir: 'src/make-greeting', from: 'npm' }]);
  });

  it('names the folder and npm’s reason, and no path of the engine, when npm fails', async () => {
    const opts = options(broken);
    const failure = await prepareKrt(opts).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DependencyInstallError);
    const { message } = failure as DependencyInstallError;
    expect(message).toMatch(/"src\/make-greeting" failed: .*404/s);
    for (const enginePath of [work, opts.workDir, opts.cacheDir])
      expect(message).not.toContain(enginePath);
  });

  it('refuses a tarball whose content does not match the lockfile’s integrity', async () => {
    await expect(prepareKrt(options(tampered))).rejects.toThrow(
      /"src\/make-greeting" failed: .*integrity/is,
    );
  });

  it('refuses the reproduced attack (.npmrc git=./x.sh, a git dependency) before npm runs', async () => {
    const marker = join(work, 'x-ran');
    const dir = join(work, 'attack');
    await cp('examples/greeter', dir, { recursive: true });
    await addNpmConfigAttack(join(dir, 'src/make-greeting'), marker);
    // The packer refuses it too; an archive made by hand reaches the deployer's check.
    await expect(packKrt(dir, join(work, 'attack.krt'), { prefix: 'kre' })).rejects.toThrow(
      KrtInvalidError,
    );
    await create({ gzip: true, file: join(work, 'attack.krt'), cwd: dir, portable: true }, ['.']);
    const failure = await prepareKrt(options(join(work, 'attack.krt'))).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(KrtInvalidError);
    const paths = (failure as KrtInvalidError).errors.map((i) => i.path);
    expect(paths).toContain('archive["src/make-greeting/.npmrc"]');
    expect(paths).toContain(
      'archive["src/make-greeting/package-lock.json"].packages["node_modules/x"]',
    );
    expect(existsSync(marker)).toBe(false);
  });

  it('asks for one Python environment per distinct requirements set, flattened from the KRT', async () => {
    const dir = join(work, 'python');
    await cp('examples/greeter', dir, { recursive: true });
    const manifest = await readFile(join(dir, 'kre.yaml'), 'utf8');
    // Every node of the greeter becomes a kre-py node; two share the root requirements.
    const sources = [...manifest.matchAll(/src: (\S+)/g)].map((m) => m[1]);
    let python = manifest.replaceAll('kre/runner-node:latest', 'konstellation/kre-py:v3.4.1');
    for (const [i, src] of sources.entries()) {
      const py = `src/py${i}/main.py`;
      python = python.replace(`src: ${src}`, `src: ${py}`);
      await mkdir(join(dir, `src/py${i}`), { recursive: true });
      await writeFile(join(dir, py), 'async def default_handler(ctx, data):\n    pass\n');
    }
    await writeFile(join(dir, 'kre.yaml'), python);
    await writeFile(
      join(dir, 'requirements.txt'),
      'protobuf==3.20.1  # KRE-era\n-c constraints.txt\n',
    );
    await writeFile(join(dir, 'constraints.txt'), 'six<2\n');
    await writeFile(
      join(dir, 'src/py0/requirements.txt'),
      '-r ../../requirements.txt\nsix==1.16.0\n',
    );
    const krt = join(work, 'python.krt');
    await packKrt(dir, krt, { prefix: 'kre' });
    const asked: [string, unknown][] = [];
    const prepared = await prepareKrt({
      ...options(krt),
      pythonEnvs: {
        ensure: (requirements, label) => {
          asked.push([label, requirements]);
          return Promise.resolve({
            key: label,
            dir: '/nowhere',
            python: { executable: 'python3', prefix: '/usr', version: '3.11' },
            from: 'cache' as const,
          });
        },
      },
    });
    expect(sources.length).toBeGreaterThan(1);
    expect(asked).toEqual([
      ['requirements.txt', { requirements: ['protobuf==3.20.1'], constraints: ['six<2'] }],
      [
        'src/py0/requirements.txt',
        { requirements: ['protobuf==3.20.1', 'six==1.16.0'], constraints: ['six<2'] },
      ],
    ]);
    expect(prepared.python).toEqual([
      { requirements: 'requirements.txt', from: 'cache' },
      { requirements: 'src/py0/requirements.txt', from: 'cache' },
    ]);
  });
});
