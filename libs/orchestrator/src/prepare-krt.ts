import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, chown, copyFile, mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import {
  LOCKFILES,
  type Krt,
  dependencyFolders,
  extractKrt,
  nodeRuntime,
  openKrt,
  readPythonRequirements,
  requirementsFileOf,
} from '@libs/krt';
import { create, extract } from 'tar';
import type { PythonEnvs } from './local/python-env.js';
import { realProgramPath, sandboxArgv, sandboxTools } from './local/sandbox.js';

const run = promisify(execFile);

export interface PrepareKrtOptions {
  /** The uploaded KRT archive. */
  archive: Readable;
  /** Installation prefix, for the validator's derived-name limits. */
  prefix: string;
  /** The runtime the version belongs to: npm's download cache is per runtime. */
  runtimeId: string;
  /** A scratch folder of this preparation (created; removed by the caller). */
  workDir: string;
  /**
   * Installed dependencies, kept between versions: `<cacheDir>/<key>.tgz`, written by the
   * engine (never by the sandbox); npm's download cache under `<cacheDir>/npm/<runtime>`.
   */
  cacheDir: string;
  /** The npm registry every dependency is fetched from, whatever host a lockfile names. */
  registry: string;
  /** The host's PATH, to find npm, bwrap and setpriv (nothing of it reaches npm). */
  hostPath: string;
  /** The uid and gid npm runs as in the sandbox (when the engine is root). */
  sandboxUser: { uid: number; gid: number };
  /** How long one `npm ci` may take. */
  timeoutMs: number;
  /**
   * Python nodes' environments (one per requirements set), built here, before any workload
   * starts, so a failed install fails the start with pip's reason (the local driver then finds
   * them in the cache). Unset: nothing is built for Python nodes.
   */
  pythonEnvs?: Pick<PythonEnvs, 'ensure'>;
}

export interface PreparedKrt {
  /** The archive to hand to workloads: the upload itself when nothing was declared. */
  archivePath: string | null;
  /** Each folder (relative to the KRT root) whose dependencies were installed, and how. */
  installed: { dir: string; from: 'npm' | 'cache' }[];
  /** Each Python environment (by requirements file; null: none) and whether it was built. */
  python: { requirements: string | null; from: 'build' | 'cache' }[];
}

/**
 * `npm ci` as the deployer runs it. Every setting that matters is on the command line, and npm
 * reads no configuration file: the folder holds only package.json and the lockfile, the user
 * config is /dev/null and the global one does not exist. Production dependencies only, no
 * install scripts, no git, no links, every tarball from the engine's registry
 * (`replace-registry-host=always`) and checked against the lockfile's integrity (the upload
 * rules require one per entry).
 */
function npmCiArgs(registry: string, cache = SANDBOX_CACHE): string[] {
  return [
    'ci',
    '--omit=dev',
    '--ignore-scripts',
    '--no-bin-links',
    '--install-links=false',
    '--no-audit',
    '--no-fund',
    '--update-notifier=false',
    '--userconfig=/dev/null',
    '--globalconfig=/nonexistent/npmrc',
    '--git=/bin/false',
    '--script-shell=/bin/false',
    `--registry=${registry}`,
    '--replace-registry-host=always',
    `--cache=${cache}`,
    // A bad tarball fails in seconds, not after npm's default minute of back-off.
    '--fetch-retries=1',
    '--fetch-retry-mintimeout=2000',
    '--fetch-retry-maxtimeout=10000',
    '--logs-max=1',
    '--loglevel=warn',
  ];
}

/** Where the sandbox sees the folder it installs into, its npm cache, Node and npm. */
const SANDBOX_WORK = '/krt';
const SANDBOX_CACHE = '/cache';
const SANDBOX_NODE = '/opt/kre/bin/node';
const SANDBOX_NPM = '/opt/kre/npm';

/** Folders of the extracted KRT with a lockfile and a package.json (never in node_modules). */
async function foldersToInstall(root: string): Promise<string[]> {
  return dependencyFolders(await filesOf(root)).map((dir) => join(root, dir));
}

/** Every file of an extracted KRT, relative to its root. */
async function filesOf(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(root, join(e.parentPath, e.name)));
}

/**
 * The cache key of a folder's dependencies: what `npm ci` installs depends only on the
 * lockfile, package.json, npm's flags (registry included) and the Node major (no native builds).
 */
async function cacheKey(dir: string, registry: string): Promise<string> {
  const hash = createHash('sha256');
  for (const file of ['package.json', ...LOCKFILES]) {
    const content = await readFile(join(dir, file)).catch(() => null);
    hash.update(`${file}\0`).update(content ?? '\0missing');
  }
  hash.update(`node${process.versions.node.split('.')[0]}|${npmCiArgs(registry).join(' ')}`);
  return hash.digest('hex').slice(0, 32);
}

/** npm's program files on this host: the Node binary and npm's package folder. */
function npmProgram(hostPath: string): { node: string; npmDir: string } {
  const found = hostPath
    .split(':')
    .map((dir) => join(dir, 'npm'))
    .find((candidate) => existsSync(candidate));
  if (!found) throw new Error("npm is not on the deployer's PATH");
  // …/npm/bin/npm-cli.js → …/npm
  const npmDir = dirname(dirname(realProgramPath(found)));
  return { node: realProgramPath(process.execPath), npmDir };
}

/** The last lines of npm's complaint, without the log location (a path of the sandbox). */
function npmReason(stderr: string): string {
  return stderr
    .trim()
    .split('\n')
    .filter((line) => !/complete log of this run|_logs\//.test(line))
    .slice(-8)
    .join('\n');
}

/**
 * Installs one folder's dependencies in the sandbox: npm sees a fresh folder holding only the
 * folder's package.json and lockfile, its runtime's download cache, and no environment. The
 * engine then packs `node_modules` into the cache itself (so cached results are the engine's,
 * read-only to tenants) and unpacks it into the KRT.
 */
async function install(
  root: string,
  dir: string,
  index: number,
  options: PrepareKrtOptions,
): Promise<'npm' | 'cache'> {
  const key = await cacheKey(dir, options.registry);
  const cached = join(options.cacheDir, `${key}.tgz`);
  const from = existsSync(cached) ? 'cache' : 'npm';
  if (from === 'npm') {
    const built = await sandboxedNpmCi(root, dir, index, options);
    // A lockfile with nothing to install leaves no node_modules: cache an empty one.
    await mkdir(join(built, 'node_modules'), { recursive: true });
    // Publish to the cache atomically: a concurrent preparation sees all of it or nothing.
    const partial = `${cached}.${randomBytes(4).toString('hex')}.partial`;
    await create({ gzip: true, file: partial, cwd: built, portable: true }, ['node_modules']);
    await chmod(partial, 0o644);
    await rename(partial, cached);
  }
  await rm(join(dir, 'node_modules'), { recursive: true, force: true });
  await extract({
    file: cached,
    cwd: dir,
    strict: true,
    // npm wrote files and folders only (--no-bin-links): anything else is refused, not followed.
    filter: (path, entry) => {
      const type = 'type' in entry ? entry.type : undefined;
      if (type === 'File' || type === 'Directory') return true;
      throw new DependencyInstallError(
        relative(root, dir) || '.',
        `the installed dependencies hold ${path}, which is not a file or folder`,
      );
    },
  });
  return from;
}

/** Runs npm with `args` (no shell); the reason of a failure as a DependencyInstallError. */
async function runNpm(
  file: string,
  args: string[],
  folder: string,
  options: { cwd?: string; env: Record<string, string>; timeoutMs: number },
): Promise<void> {
  try {
    await run(file, args, {
      cwd: options.cwd,
      env: options.env,
      timeout: options.timeoutMs,
      killSignal: 'SIGKILL',
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const { stderr, killed } = error as { stderr?: string; killed?: boolean };
    const why = killed
      ? `took longer than ${Math.round(options.timeoutMs / 1_000)} s`
      : npmReason(stderr ?? String(error));
    throw new DependencyInstallError(folder, why);
  }
}

/** Runs `npm ci` for `dir` in the sandbox; the folder holding the built `node_modules`. */
async function sandboxedNpmCi(
  root: string,
  dir: string,
  index: number,
  options: PrepareKrtOptions,
): Promise<string> {
  const { uid, gid } = options.sandboxUser;
  const asRoot = process.getuid?.() === 0;
  const tools = sandboxTools(options.hostPath);
  const { node, npmDir } = npmProgram(options.hostPath);
  // The sandbox's folder: the manifest and lockfile only, writable by the sandbox's user.
  const build = join(options.workDir, `build-${index}`);
  await mkdir(build, { mode: 0o755 });
  for (const file of ['package.json', ...LOCKFILES]) {
    if (existsSync(join(dir, file))) await copyFile(join(dir, file), join(build, file));
  }
  const npmCache = join(options.cacheDir, 'npm', options.runtimeId);
  await mkdir(npmCache, { recursive: true, mode: 0o700 });
  if (asRoot) {
    await chown(build, uid, gid);
    await chown(npmCache, uid, gid);
  }
  const { file, args } = sandboxArgv(
    {
      command: SANDBOX_NODE,
      args: [`${SANDBOX_NPM}/bin/npm-cli.js`, ...npmCiArgs(options.registry)],
      cwd: SANDBOX_WORK,
      env: { PATH: `${dirname(SANDBOX_NODE)}:/usr/bin:/bin`, HOME: '/tmp' },
      readOnly: [
        { host: node, path: SANDBOX_NODE },
        { host: npmDir, path: SANDBOX_NPM },
      ],
      writable: [
        { host: build, path: SANDBOX_WORK },
        { host: npmCache, path: SANDBOX_CACHE },
      ],
      uid,
      gid,
    },
    tools,
    asRoot,
  );
  await runNpm(file, args, relative(root, dir) || '.', { env: {}, timeoutMs: options.timeoutMs });
  return build;
}
/** A declared dependency could not be installed (the lockfile is wrong, a package is missing). */
export class DependencyInstallError extends Error {
  /** A network failure, which a retry may get past (a wrong lockfile stays wrong). */
  readonly transient: boolean;

  constructor(
    readonly folder: string,
    readonly reason: string,
  ) {
    super(`installing the dependencies of "${folder}" failed: ${reason}`);
    this.name = 'DependencyInstallError';
    this.transient =
      /E(NOTFOUND|TIMEDOUT|CONNRESET|CONNREFUSED|AI_AGAIN)|\bnetwork\b|took longer/i.test(reason);
  }
}

/**
 * Prepares a version once for all its workloads: the dependencies the KRT declares (a
 * `package.json` with a `package-lock.json`, in any folder) are installed with `npm ci` in the
 * sandbox (`local/sandbox.ts`; cached by lockfile hash), and the KRT is packed again with them. The result is checked with the same
 * hardened reader the fetch step uses, so a preparation that workloads could not extract fails
 * here, once, with the reason.
 * @throws DependencyInstallError, KrtInvalidError
 */
export async function prepareKrt(options: PrepareKrtOptions): Promise<PreparedKrt> {
  const root = join(options.workDir, 'krt');
  await mkdir(options.workDir, { recursive: true });
  await mkdir(options.cacheDir, { recursive: true });
  // Extraction validates again with today's rules (an archive stored before a rule existed).
  const { krt } = await extractKrt(options.archive, { dest: root, prefix: options.prefix });
  const python = options.pythonEnvs ? await preparePython(root, krt, options.pythonEnvs) : [];
  const folders = await foldersToInstall(root);
  if (folders.length === 0) return { archivePath: null, installed: [], python };

  const installed: PreparedKrt['installed'] = [];
  for (const [index, dir] of folders.entries()) {
    installed.push({
      dir: relative(root, dir) || '.',
      from: await install(root, dir, index, options),
    });
  }
  const archivePath = join(options.workDir, 'prepared.krt');
  await create({ gzip: true, file: archivePath, cwd: root, portable: true }, await readdir(root));
  await openKrt(createReadStream(archivePath), { prefix: options.prefix });
  return { archivePath, installed, python };
}

/**
 * Builds (or finds) the environment of each distinct requirements set of the KRT's Python
 * nodes: their requirements files flattened from the extracted KRT, so pip reads none of it.
 * @throws DependencyInstallError naming the requirements file, with pip's last lines
 */
async function preparePython(
  root: string,
  krt: Krt,
  envs: Pick<PythonEnvs, 'ensure'>,
): Promise<PreparedKrt['python']> {
  const files = new Set<string | null>();
  for (const node of krt.workflows.flatMap((w) => w.nodes)) {
    if (nodeRuntime(node) === 'python')
      files.add(requirementsFileOf(node.src, krt.requirements ?? []) ?? null);
  }
  const prepared: PreparedKrt['python'] = [];
  for (const file of [...files].sort()) {
    const requirements = file
      ? readPythonRequirements(root, file)
      : { requirements: [], constraints: [] };
    const env = await envs.ensure(requirements, file ?? 'the Python runner');
    prepared.push({ requirements: file, from: env.from });
  }
  return prepared;
}

/**
 * Installs an extracted KRT's declared dependencies where it lies, with the same npm settings
 * as `prepareKrt` but no sandbox of its own: for a place that already is one (the Kubernetes
 * fetch step, an init container in the runtime's namespace with no service-account token and
 * no engine secrets). The KRT was validated by the hardened reader that extracted it.
 */
export async function installDependenciesInPlace(
  root: string,
  options: { registry: string; cacheDir: string; timeoutMs: number },
): Promise<string[]> {
  const { node, npmDir } = npmProgram(process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin');
  const installed: string[] = [];
  for (const dir of await foldersToInstall(root)) {
    const folder = relative(root, dir) || '.';
    await runNpm(
      node,
      [join(npmDir, 'bin/npm-cli.js'), ...npmCiArgs(options.registry, options.cacheDir)],
      folder,
      {
        cwd: dir,
        env: { PATH: `${dirname(node)}:/usr/bin:/bin`, HOME: options.cacheDir },
        timeoutMs: options.timeoutMs,
      },
    );
    installed.push(folder);
  }
  return installed;
}
