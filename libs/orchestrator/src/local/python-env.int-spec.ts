import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DependencyInstallError } from '../prepare-krt.js';
import { PythonEnvs, type PythonEnvOptions } from './python-env.js';

const run = promisify(execFile);
const SYSTEM_CA = '/etc/ssl/certs/ca-certificates.crt';

/**
 * Virtualenvs built with the real pip in the real sandbox (bubblewrap) against the real PyPI,
 * kept small: a stand-in runner package (the real one's dependencies are not the point), one
 * small pure wheel and a KRE-era protobuf pin.
 */
describe(PythonEnvs.name, () => {
  let work: string;
  let options: PythonEnvOptions;
  const KRE_ERA = { requirements: ['protobuf==3.20.1', 'six==1.16.0'], constraints: [] };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'kre-python-env-'));
    const runner = join(work, 'runner');
    await mkdir(join(runner, 'kre_runner'), { recursive: true });
    await writeFile(
      join(runner, 'pyproject.toml'),
      [
        '[build-system]',
        'requires = ["setuptools>=68"]',
        'build-backend = "setuptools.build_meta"',
        '[project]',
        'name = "kre-runner"',
        'version = "0.0.0"',
        'requires-python = ">=3.11"',
        'dependencies = ["protobuf>=3.20,<8"]',
        '[tool.setuptools]',
        'packages = ["kre_runner"]',
        '',
      ].join('\n'),
    );
    await writeFile(join(runner, 'kre_runner/__init__.py'), '');
    await writeFile(
      join(runner, 'kre_runner/__main__.py'),
      'import google.protobuf, six, sys\nprint(google.protobuf.__version__, six.__version__, sys.prefix)\n',
    );
    options = {
      cacheDir: join(work, 'cache'),
      python: 'python3',
      runnerPackage: runner,
      indexUrl: 'https://pypi.org/simple',
      caBundle: existsSync(SYSTEM_CA) ? SYSTEM_CA : undefined,
      hostPath: process.env.PATH ?? '/usr/bin:/bin',
      sandboxUser: { uid: 64_000, gid: 64_000 },
      timeoutMs: 120_000,
    };
  });

  afterAll(async () => {
    await run('chmod', ['-R', 'u+w', work]).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  });

  it('builds one read-only venv per requirements set, once, even for concurrent builders', async () => {
    // Two deployer processes (two instances) asking at once: both get the one result.
    const [a, b] = await Promise.all([
      new PythonEnvs(options).ensure(KRE_ERA, 'requirements.txt'),
      new PythonEnvs(options).ensure(KRE_ERA, 'requirements.txt'),
    ]);
    expect(a.dir).toBe(b.dir);
    expect([a.from, b.from]).toEqual(['build', 'build']);
    const { stdout } = await run(join(a.dir, 'bin/python'), ['-m', 'kre_runner'], {
      cwd: work,
    });
    // The KRE-era pin wins over the runner's own range, and the runner is installed.
    expect(stdout.trim().split(' ').slice(0, 2)).toEqual(['3.20.1', '1.16.0']);

    const again = await new PythonEnvs(options).ensure(
      { requirements: [...KRE_ERA.requirements], constraints: [] },
      'src/etl/requirements.txt',
    );
    expect(again).toMatchObject({ dir: a.dir, from: 'cache' });

    // The engine's, read-only: no write bit on the venv, its folders or files.
    for (const path of [a.dir, join(a.dir, 'bin'), join(a.dir, 'pyvenv.cfg')]) {
      const info = await stat(path);
      expect(info.mode & 0o222).toBe(0);
      expect(info.uid).toBe(process.getuid!());
    }
    // Nothing is left of the builds but the venv.
    const { stdout: listing } = await run('ls', ['-A', options.cacheDir]);
    expect(listing.trim().split('\n')).toEqual([a.key]);
  });

  it('fails at once, saying what is missing, without a usable Python', async () => {
    const envs = new PythonEnvs({ ...options, python: '/nonexistent/python3' });
    const error = await envs.ensure(KRE_ERA, 'requirements.txt').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyInstallError);
    expect((error as Error).message).toContain(
      'Python nodes need Python 3.11 or later on the deployer\'s machine (KRE_PYTHON="/nonexistent/python3"',
    );
    expect((error as DependencyInstallError).transient).toBe(false);
  });

  it('keys on every input: requirements, constraints, index, runner package', async () => {
    const envs = new PythonEnvs(options);
    const base = await envs.keyOf(KRE_ERA);
    expect(await envs.keyOf(KRE_ERA)).toBe(base);
    expect(await envs.keyOf({ ...KRE_ERA, requirements: ['protobuf==4.25.3'] })).not.toBe(base);
    expect(await envs.keyOf({ ...KRE_ERA, constraints: ['six<2'] })).not.toBe(base);
    expect(
      await new PythonEnvs({ ...options, indexUrl: 'https://m.example/simple' }).keyOf(KRE_ERA),
    ).not.toBe(base);
    await writeFile(join(options.runnerPackage, 'kre_runner/extra.py'), 'X = 1\n');
    try {
      expect(await envs.keyOf(KRE_ERA)).not.toBe(base);
    } finally {
      await rm(join(options.runnerPackage, 'kre_runner/extra.py'));
    }
  });

  it("fails naming the package without a wheel, with pip's lines and no engine path", async () => {
    // Scratch folders: an abandoned build's (a deployer killed mid-build), and a recent one.
    const abandoned = join(options.cacheDir, '.build-abandoned-0000');
    const recent = join(options.cacheDir, '.build-recent-0000');
    await mkdir(join(abandoned, 'venv/bin'), { recursive: true });
    await mkdir(recent, { recursive: true });
    await run('chmod', ['-R', 'a-w', abandoned]);
    const old = new Date(Date.now() - 3 * options.timeoutMs);
    await utimes(abandoned, old, old);

    const error = await new PythonEnvs(options)
      .ensure({ requirements: ['numpy==1.18.4'], constraints: [] }, 'src/model/requirements.txt')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyInstallError);
    const message = (error as Error).message;
    expect(message).toContain('installing the dependencies of "src/model/requirements.txt" failed');
    expect(message).toContain('numpy==1.18.4');
    expect(message).toContain('only wheels are installed');
    expect(message).not.toContain(work);
    expect(message).not.toContain('/root');
    expect((error as DependencyInstallError).transient).toBe(false);
    // The build removed the abandoned scratch folder first, and only that one.
    expect(existsSync(abandoned)).toBe(false);
    expect(existsSync(recent)).toBe(true);
  });
});
