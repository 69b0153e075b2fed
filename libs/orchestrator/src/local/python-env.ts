import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  cp,
  lchown,
  mkdir,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import type { PythonRequirements } from '@libs/krt';
import { DependencyInstallError } from '../prepare-krt.js';
import { realProgramPath, sandboxArgv, sandboxTools } from './sandbox.js';

const run = promisify(execFile);

/**
 * Where a Python environment lives inside every sandbox: the venv is built there (its scripts
 * and `pyvenv.cfg` name this path) and every workload sees its cached copy there, read-only.
 */
export const SANDBOX_VENV = '/opt/kre/venv';
/** The installer's working folder inside the build sandbox (flattened requirements, runner copy). */
const SANDBOX_WORK = '/work';

export interface PythonEnvOptions {
  /** `<cacheDir>/<key>`: one read-only virtualenv per distinct set of inputs. */
  cacheDir: string;
  /** The host's Python (`KRE_PYTHON`: a name looked up on `hostPath`, or a path). */
  python: string;
  /** The runner package's folder (`runners/python`), installed into every environment. */
  runnerPackage: string;
  /** The index every package comes from (`PYPI_INDEX_URL`); nothing of the KRT chooses it. */
  indexUrl: string;
  /**
   * The CA bundle pip trusts (`--cert`; under /etc/ssl, which the sandbox shows): the system's,
   * so a TLS-inspecting proxy's CA that the machine trusts is trusted too. Unset: pip's own.
   */
  caBundle?: string;
  /** The host's PATH, to find Python, bwrap and setpriv (nothing of it reaches pip). */
  hostPath: string;
  /** The uid and gid pip runs as in the sandbox (when the engine is root). */
  sandboxUser: { uid: number; gid: number };
  /** How long building one environment may take. */
  timeoutMs: number;
  /**
   * A cached environment no replica uses is deleted once it was last used this long ago
   * (`prune`; each start that uses one marks it used). Unset: kept forever.
   */
  keepUnusedMs?: number;
}

/** The host's Python installation, which every environment's `bin/python` links to. */
export interface PythonInstallation {
  /** The real interpreter (not a pyenv shim). */
  executable: string;
  /** `sys.base_prefix`: shown read-only in the sandboxes at the same path. */
  prefix: string;
  /** `sys.version`, part of every key. */
  version: string;
}

/** A ready environment: run `<dir>/bin/python -m kre_runner` (or, sandboxed, SANDBOX_VENV's). */
export interface PythonEnv {
  key: string;
  /** The cached venv on the host (read-only, owned by the engine). */
  dir: string;
  python: PythonInstallation;
  from: 'build' | 'cache';
}

/** What a requirements set is called in messages: its file in the KRT, or "the Python runner". */
export type PythonEnvLabel = string;

/** Folders of the runner package that do not change what is installed. */
const RUNNER_SKIP = new Set([
  '__pycache__',
  'build',
  'dist',
  'tests',
  '.venv',
  '.pytest_cache',
  '.git',
]);

/**
 * pip's arguments (after `-m pip`): every setting on the command line and no configuration file
 * read (PIP_CONFIG_FILE=/dev/null in its environment); wheels only, so installing runs no code
 * of any package (a package without a wheel for this Python fails, naming it); no download cache
 * shared between builds.
 */
function pipArgs(options: PythonEnvOptions, hasConstraints: boolean): string[] {
  return [
    'install',
    '--no-input',
    '--disable-pip-version-check',
    '--no-cache-dir',
    '--progress-bar=off',
    '--no-warn-script-location',
    '--only-binary=:all:',
    `--index-url=${options.indexUrl}`,
    ...(options.caBundle ? [`--cert=${options.caBundle}`] : []),
    '--retries=1',
    '--timeout=30',
    '-r',
    `${SANDBOX_WORK}/requirements.txt`,
    ...(hasConstraints ? ['-c', `${SANDBOX_WORK}/constraints.txt`] : []),
    `${SANDBOX_WORK}/runner`,
  ];
}

/**
 * The last lines of pip's complaint. Inside the sandbox every path is the sandbox's (`/work`,
 * SANDBOX_VENV) except the Python installation's, which is hidden too.
 */
function pipReason(output: string, python: PythonInstallation): string {
  const lines = output
    .trim()
    .split('\n')
    .filter((line) => line.trim() && !/^\s*(WARNING: |\[notice\])/.test(line));
  const errors = lines.filter((line) => line.startsWith('ERROR:'));
  const tail = (errors.length ? errors : lines)
    .slice(-8)
    .join('\n')
    .replaceAll(python.prefix, '<python>');
  const version = python.version.split(' ')[0];
  return /No matching distribution found|Could not find a version that satisfies/.test(tail)
    ? `${tail}\n(only wheels are installed, from the engine's index: pin a version that publishes a wheel for Python ${version})`
    : tail;
}

/**
 * Virtualenvs for Python nodes on one machine: one per distinct set of inputs (the Python
 * installation, the runner package's files, the flattened requirements and constraints, pip's
 * flags with the index), built once in the sandbox (`sandbox.ts`, as `prepare-krt.ts` runs npm)
 * with no engine secret in its environment, then made read-only and owned by the engine, and
 * reused by every version and restart that needs the same.
 */
export class PythonEnvs {
  private installation?: Promise<PythonInstallation>;
  /** Builds under way in this process, by key: a second caller waits for the first. */
  private readonly building = new Map<string, Promise<PythonEnv>>();

  constructor(private readonly options: PythonEnvOptions) {}

  /** The host's Python, asked once. @throws when it cannot be run */
  python(): Promise<PythonInstallation> {
    this.installation ??= this.probe();
    return this.installation;
  }

  /** The cache key of an environment with these requirements (sha256 of every input). */
  async keyOf(requirements: PythonRequirements): Promise<string> {
    const python = await this.python();
    const hash = createHash('sha256');
    hash.update(`kre-python-env/1\0${python.version}\0${python.executable}\0`);
    hash.update(`runner\0${await this.runnerHash()}\0`);
    hash.update(`requirements\0${requirements.requirements.join('\n')}\0`);
    hash.update(`constraints\0${requirements.constraints.join('\n')}\0`);
    hash.update(`pip\0${pipArgs(this.options, true).join(' ')}`);
    return hash.digest('hex').slice(0, 32);
  }

  /**
   * The environment for `requirements`, built if no cached one exists. `label` names the
   * requirements in errors (their file in the KRT).
   * @throws DependencyInstallError with pip's last lines
   */
  async ensure(requirements: PythonRequirements, label: PythonEnvLabel): Promise<PythonEnv> {
    // No usable Python stays so on a retry: the start fails at once, saying what is missing.
    const python = await this.python().catch((error: Error) => {
      throw new DependencyInstallError(label, error.message);
    });
    const key = await this.keyOf(requirements);
    const dir = join(this.options.cacheDir, key);
    if (existsSync(dir)) {
      await markUsed(dir);
      return { key, dir, python, from: 'cache' };
    }
    let pending = this.building.get(key);
    if (!pending) {
      pending = this.build(key, requirements, label, python).finally(() =>
        this.building.delete(key),
      );
      this.building.set(key, pending);
    }
    return pending;
  }

  /**
   * Deletes the cached environments that no replica uses (`inUse`: their dirs) and that were last
   * used more than `keepUnusedMs` before `now`, so the cache does not grow with every
   * requirements set a machine ever ran. A version started again later builds its own anew.
   * @returns the deleted environments' keys
   */
  async prune(inUse: ReadonlySet<string>, now = Date.now()): Promise<string[]> {
    const keep = this.options.keepUnusedMs;
    if (keep === undefined) return [];
    const pruned: string[] = [];
    for (const name of await readdir(this.options.cacheDir).catch(() => [] as string[])) {
      const dir = join(this.options.cacheDir, name);
      if (!CACHE_KEY.test(name) || inUse.has(dir) || this.building.has(name)) continue;
      const info = await stat(dir).catch(() => null);
      if (!info?.isDirectory() || now - info.mtimeMs <= keep) continue;
      await writableTree(dir).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      pruned.push(name);
    }
    return pruned;
  }

  private async probe(): Promise<PythonInstallation> {
    const script =
      'import json, sys; print(json.dumps({"executable": sys.executable, "prefix": sys.base_prefix, "version": sys.version}))';
    try {
      const { stdout } = await run(this.options.python, ['-I', '-c', script], {
        env: { PATH: this.options.hostPath },
        timeout: 30_000,
      });
      const found = JSON.parse(stdout) as PythonInstallation;
      return { ...found, executable: realProgramPath(found.executable) };
    } catch (error) {
      throw new Error(
        `Python nodes need Python 3.11 or later on the deployer's machine (KRE_PYTHON="${this.options.python}" did not run: ${(error as Error).message.split('\n')[0]}); scripts/start installs it`,
        { cause: error },
      );
    }
  }

  /** sha256 of the runner package's files (paths and contents), build leftovers excluded. */
  private async runnerHash(): Promise<string> {
    const root = this.options.runnerPackage;
    const hash = createHash('sha256');
    const files = (await readdir(root, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => relative(root, join(e.parentPath, e.name)))
      .filter((path) => !path.split('/').some((s) => RUNNER_SKIP.has(s) || s.endsWith('.egg-info')))
      .sort();
    for (const path of files) hash.update(`${path}\0`).update(await readFile(join(root, path)));
    return hash.digest('hex');
  }

  /**
   * Scratch folders of builds that cannot still be running (a deployer killed mid-build leaves
   * one): older than twice the build timeout.
   */
  private async removeAbandonedBuilds(): Promise<void> {
    const cutoff = Date.now() - 2 * this.options.timeoutMs;
    for (const name of await readdir(this.options.cacheDir)) {
      if (!name.startsWith('.build-')) continue;
      const path = join(this.options.cacheDir, name);
      const info = await stat(path).catch(() => null);
      if (!info || info.mtimeMs > cutoff) continue;
      await writableTree(path).catch(() => undefined);
      await rm(path, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  private async build(
    key: string,
    requirements: PythonRequirements,
    label: PythonEnvLabel,
    python: PythonInstallation,
  ): Promise<PythonEnv> {
    const { uid, gid } = this.options.sandboxUser;
    const asRoot = process.getuid?.() === 0;
    const tools = sandboxTools(this.options.hostPath);
    await mkdir(this.options.cacheDir, { recursive: true, mode: 0o755 });
    await this.removeAbandonedBuilds();
    // Beside its destination, so the final rename is atomic; a name per builder.
    const scratch = join(this.options.cacheDir, `.build-${key}-${randomBytes(4).toString('hex')}`);
    const venv = join(scratch, 'venv');
    const work = join(scratch, 'work');
    try {
      await mkdir(venv, { recursive: true, mode: 0o755 });
      await mkdir(work, { mode: 0o755 });
      // pip reads what the engine wrote: flattened requirements (no option can reach pip) and
      // a copy of the runner package (setuptools builds in the source tree).
      await writeFile(join(work, 'requirements.txt'), lines(requirements.requirements));
      if (requirements.constraints.length)
        await writeFile(join(work, 'constraints.txt'), lines(requirements.constraints));
      await cp(this.options.runnerPackage, join(work, 'runner'), {
        recursive: true,
        filter: (source) => {
          const rel = relative(this.options.runnerPackage, source);
          return !rel.split('/').some((s) => RUNNER_SKIP.has(s) || s.endsWith('.egg-info'));
        },
      });
      if (asRoot) {
        await chownTree(scratch, { uid, gid });
      }
      const sandboxed = (command: string, args: string[]) =>
        sandboxArgv(
          {
            command,
            args,
            cwd: SANDBOX_WORK,
            env: {
              PATH: `${SANDBOX_VENV}/bin:/usr/bin:/bin`,
              HOME: '/tmp',
              LANG: 'C.UTF-8',
              PIP_CONFIG_FILE: '/dev/null',
              // The runner package's build environment is a pip of its own, which sees the CA
              // bundle only this way (pip < 23.3 passes it no --cert).
              ...(this.options.caBundle ? { PIP_CERT: this.options.caBundle } : {}),
            },
            readOnly: python.prefix.startsWith('/usr/')
              ? []
              : [{ host: python.prefix, path: python.prefix }],
            writable: [
              { host: venv, path: SANDBOX_VENV },
              { host: work, path: SANDBOX_WORK },
            ],
            uid,
            gid,
          },
          tools,
          asRoot,
        );
      const deadline = Date.now() + this.options.timeoutMs;
      const step = async (command: string, args: string[]) => {
        const argv = sandboxed(command, args);
        await runInstaller(argv.file, argv.args, label, python, deadline - Date.now());
      };
      await step(python.executable, ['-I', '-m', 'venv', SANDBOX_VENV]);
      await step(`${SANDBOX_VENV}/bin/python`, [
        '-I',
        '-m',
        'pip',
        ...pipArgs(this.options, requirements.constraints.length > 0),
      ]);
      // The engine's from now on: no workload (nor a later build) may change it.
      const engine = { uid: process.getuid?.() ?? uid, gid: process.getgid?.() ?? gid };
      if (asRoot) await chownTree(venv, engine);
      await readOnlyTree(venv);
      const dir = join(this.options.cacheDir, key);
      try {
        await rename(venv, dir);
        await markUsed(dir);
      } catch (error) {
        // Another builder (another deployer process) got there first: theirs is as good.
        if (!existsSync(dir)) throw error;
        await writableTree(venv);
      }
      return { key, dir, python, from: 'build' };
    } finally {
      if (existsSync(venv)) await writableTree(venv).catch(() => undefined);
      await rm(scratch, { recursive: true, force: true });
    }
  }
}

/** A cache entry's name: `keyOf`'s 32 hex digits (scratch folders start with `.build-`). */
const CACHE_KEY = /^[0-9a-f]{32}$/;

/** Marks a cached environment used now (its folder's mtime), for `prune`. */
async function markUsed(dir: string): Promise<void> {
  const now = new Date();
  await utimes(dir, now, now).catch(() => undefined);
}

function lines(list: readonly string[]): string {
  return list.map((line) => `${line}\n`).join('');
}

/** Runs one installer step; its failure as a DependencyInstallError with pip's last lines. */
async function runInstaller(
  file: string,
  args: string[],
  label: PythonEnvLabel,
  python: PythonInstallation,
  timeoutMs: number,
): Promise<void> {
  try {
    await run(file, args, {
      env: {},
      timeout: Math.max(1_000, timeoutMs),
      killSignal: 'SIGKILL',
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout, stderr, killed } = error as {
      stdout?: string;
      stderr?: string;
      killed?: boolean;
    };
    const why = killed
      ? `took longer than ${Math.round(timeoutMs / 1_000)} s`
      : pipReason(`${stdout ?? ''}\n${stderr ?? String(error)}`, python);
    throw new DependencyInstallError(label, why);
  }
}

async function chownTree(root: string, ids: { uid: number; gid: number }): Promise<void> {
  await lchown(root, ids.uid, ids.gid);
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true }))
    await lchown(join(entry.parentPath, entry.name), ids.uid, ids.gid);
}

/** Takes every write bit off (links are left alone: their mode means nothing). */
async function readOnlyTree(root: string): Promise<void> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  // Files first, folders deepest first: a folder without write bits still lists its entries.
  for (const entry of entries.filter((e) => e.isFile()))
    await chmodMinus(join(entry.parentPath, entry.name), 0o222);
  const dirs = entries
    .filter((e) => e.isDirectory())
    .map((e) => join(e.parentPath, e.name))
    .sort((a, b) => b.length - a.length);
  for (const dir of [...dirs, root]) await chmodMinus(dir, 0o222);
}

/** Gives the owner write on folders again, so a discarded build can be removed. */
async function writableTree(root: string): Promise<void> {
  await chmod(root, 0o755);
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true }))
    if (entry.isDirectory()) await chmod(join(entry.parentPath, entry.name), 0o755);
}

async function chmodMinus(path: string, bits: number): Promise<void> {
  const mode = (await stat(path)).mode & 0o7777;
  await chmod(path, mode & ~bits);
}
