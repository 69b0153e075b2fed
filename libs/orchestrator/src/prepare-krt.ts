import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { extractKrt, openKrt } from '@libs/krt';
import { create, extract } from 'tar';

const run = promisify(execFile);

/** The lockfiles that declare a KRT's JS dependencies (beside a package.json). */
const LOCKFILES = ['package-lock.json', 'npm-shrinkwrap.json'];

export interface PrepareKrtOptions {
  /** The uploaded KRT archive. */
  archive: Readable;
  /** Installation prefix, for the validator's derived-name limits. */
  prefix: string;
  /** A scratch folder of this preparation (created; removed by the caller). */
  workDir: string;
  /** Installed dependencies, kept between versions: `<cacheDir>/<lockfile hash>.tgz`. */
  cacheDir: string;
  /** Env of npm (PATH and HOME at least); npm's own cache goes under `cacheDir`. */
  env: Record<string, string | undefined>;
  /** How long one `npm ci` may take. */
  timeoutMs: number;
}

export interface PreparedKrt {
  /** The archive to hand to workloads: the upload itself when nothing was declared. */
  archivePath: string | null;
  /** Each folder (relative to the KRT root) whose dependencies were installed, and how. */
  installed: { dir: string; from: 'npm' | 'cache' }[];
}

/** Folders of the KRT with a lockfile and a package.json (never inside node_modules). */
async function dependencyFolders(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const found = new Set<string>();
  for (const entry of entries) {
    if (!entry.isFile() || !LOCKFILES.includes(entry.name)) continue;
    const dir = entry.parentPath;
    if (relative(root, dir).split(/[\\/]/).includes('node_modules')) continue;
    if (
      await access(join(dir, 'package.json')).then(
        () => true,
        () => false,
      )
    )
      found.add(dir);
  }
  return [...found].sort();
}

/**
 * The cache key of a folder's dependencies: what `npm ci` installs depends only on the
 * lockfile, package.json, the flags below and the Node major (native builds are off).
 */
async function cacheKey(dir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const file of ['package.json', ...LOCKFILES]) {
    const content = await readFile(join(dir, file)).catch(() => null);
    hash.update(`${file}\0`).update(content ?? '\0missing');
  }
  hash.update(`node${process.versions.node.split('.')[0]}|${NPM_CI.join(' ')}`);
  return hash.digest('hex').slice(0, 32);
}

/**
 * `npm ci` as the deployer runs it: production dependencies only, no install scripts (no user
 * or third-party code runs in the deployer), no `.bin` links (KRTs may not hold links).
 */
const NPM_CI = [
  'ci',
  '--omit=dev',
  '--ignore-scripts',
  '--no-bin-links',
  '--no-audit',
  '--no-fund',
];

async function install(
  root: string,
  dir: string,
  options: PrepareKrtOptions,
): Promise<'npm' | 'cache'> {
  const { cacheDir } = options;
  const key = await cacheKey(dir);
  const cached = join(cacheDir, `${key}.tgz`);
  if (
    await access(cached).then(
      () => true,
      () => false,
    )
  ) {
    await rm(join(dir, 'node_modules'), { recursive: true, force: true });
    await extract({ file: cached, cwd: dir, strict: true });
    return 'cache';
  }
  try {
    await run('npm', NPM_CI, {
      cwd: dir,
      env: {
        ...options.env,
        npm_config_cache: join(cacheDir, 'npm'),
        npm_config_update_notifier: 'false',
      },
      timeout: options.timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const { stderr, killed } = error as { stderr?: string; killed?: boolean };
    const why = killed
      ? `took longer than ${Math.round(options.timeoutMs / 1_000)} s`
      : (stderr ?? String(error)).trim().split('\n').slice(-8).join('\n');
    throw new DependencyInstallError(relative(root, dir) || '.', why);
  }
  // Publish to the cache atomically: a concurrent preparation sees all of it or nothing.
  const partial = `${cached}.${randomBytes(4).toString('hex')}.partial`;
  await create({ gzip: true, file: partial, cwd: dir, portable: true }, ['node_modules']);
  await rename(partial, cached);
  return 'npm';
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
 * `package.json` with a `package-lock.json`, in any folder) are installed with `npm ci` (cached by
 * lockfile hash), and the KRT is packed again with them. The result is checked with the same
 * hardened reader the fetch step uses, so a preparation that workloads could not extract fails
 * here, once, with the reason.
 * @throws DependencyInstallError, KrtInvalidError
 */
export async function prepareKrt(options: PrepareKrtOptions): Promise<PreparedKrt> {
  const root = join(options.workDir, 'krt');
  await mkdir(options.workDir, { recursive: true });
  await mkdir(options.cacheDir, { recursive: true });
  await extractKrt(options.archive, { dest: root, prefix: options.prefix });
  const folders = await dependencyFolders(root);
  if (folders.length === 0) return { archivePath: null, installed: [] };

  const installed: PreparedKrt['installed'] = [];
  for (const dir of folders) {
    installed.push({ dir: relative(root, dir) || '.', from: await install(root, dir, options) });
  }
  const archivePath = join(options.workDir, 'prepared.krt');
  await create({ gzip: true, file: archivePath, cwd: root, portable: true }, await readdir(root));
  await openKrt(createReadStream(archivePath), { prefix: options.prefix });
  return { archivePath, installed };
}
