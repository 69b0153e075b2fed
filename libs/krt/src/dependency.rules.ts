import type { KrtLayout } from './krt.contents.js';
import { entryIssuePath } from './entry-path.rules.js';
import type { IssueCollector } from './krt.errors.js';

/**
 * What a KRT may declare for the engine to install. Dependency preparation runs a package
 * manager on tenant input, so the KRT may not configure that package manager (every setting
 * that matters comes from the engine's command line), and a lockfile may name only registry
 * tarballs pinned by a strong `integrity` hash: no git, `file:`, link or remote-URL dependency,
 * each of which can run or read something the registry's content hash does not cover.
 */

/** The lockfiles that declare a KRT's JS dependencies (beside a package.json). */
export const LOCKFILES = ['package-lock.json', 'npm-shrinkwrap.json'] as const;

/**
 * Files that configure a package manager (npm, yarn, pnpm, bun, pip): refused anywhere in a KRT,
 * matched on the file name. A folder listed with a trailing `/` is refused with all it holds.
 */
const PACKAGE_MANAGER_CONFIG: readonly (string | RegExp)[] = [
  '.npmrc',
  /^\.yarnrc(\..*)?$/,
  /^\.pnpmfile\..*$/,
  'pnpm-workspace.yaml',
  'bunfig.toml',
  'pip.conf',
  'pip.ini',
  '.pydistutils.cfg',
];
const PACKAGE_MANAGER_FOLDERS = ['.yarn', '.pip'];

/** Integrity algorithms strong enough to pin content (npm's lockfiles use sha512). */
const STRONG_INTEGRITY = /^sha(512|384|256)-[A-Za-z0-9+/]+={0,2}$/;
/** An exact version as the registry publishes it (no ranges, URLs, tags or git refs). */
const EXACT_VERSION = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;
/** A registry package name, optionally scoped. */
const PACKAGE_NAME = /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/i;

/** Whether this file name (the last path segment) configures a package manager. */
function isPackageManagerConfig(base: string): boolean {
  return PACKAGE_MANAGER_CONFIG.some((rule) =>
    typeof rule === 'string' ? rule === base : rule.test(base),
  );
}

/** The lockfile paths of a layout that npm would use: beside a package.json, not in node_modules. */
export function lockfilesOf(files: Iterable<string>): string[] {
  const all = new Set(files);
  const found: string[] = [];
  for (const path of all) {
    const slash = path.lastIndexOf('/');
    const base = path.slice(slash + 1);
    if (!(LOCKFILES as readonly string[]).includes(base)) continue;
    if (path.split('/').includes('node_modules')) continue;
    const dir = slash < 0 ? '' : path.slice(0, slash + 1);
    if (all.has(`${dir}package.json`)) found.push(path);
  }
  return found.sort();
}

/** The folders holding those lockfiles (`.` for the root), each once. */
export function dependencyFolders(files: Iterable<string>): string[] {
  const dirs = lockfilesOf(files).map((lock) => {
    const slash = lock.lastIndexOf('/');
    return slash < 0 ? '.' : lock.slice(0, slash);
  });
  return [...new Set(dirs)].sort();
}

/** One lockfile entry as npm writes it (v2/v3 `packages`, or v1 `dependencies`). */
interface LockEntry {
  version?: unknown;
  resolved?: unknown;
  integrity?: unknown;
  link?: unknown;
  inBundle?: unknown;
  bundled?: unknown;
  name?: unknown;
  dependencies?: unknown;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks one entry; `name` is the package's registry name (an alias entry names it itself).
 * A registry tarball's path is `<name>/-/<bare name>-<version>.tgz` on any registry; the
 * engine fetches it from its own registry whatever host the lockfile names.
 */
function checkEntry(name: string, entry: LockEntry, where: string, issues: IssueCollector): void {
  if (entry.link === true) {
    issues.error(
      where,
      'a linked (workspace or `file:` folder) dependency: depend on a registry package',
    );
    return;
  }
  // Bundled dependencies arrive inside their parent's tarball, which its integrity covers.
  if (entry.inBundle === true || entry.bundled === true) return;
  const realName = typeof entry.name === 'string' ? entry.name : name;
  if (!PACKAGE_NAME.test(realName)) {
    issues.error(where, `"${realName}" is not a registry package name`);
    return;
  }
  const { version, resolved, integrity } = entry;
  if (typeof version !== 'string' || !EXACT_VERSION.test(version)) {
    issues.error(
      where,
      `version ${JSON.stringify(version ?? null)} is not a registry version (git, file, link and URL dependencies are refused): depend on a version published to the registry`,
    );
    return;
  }
  if (resolved !== undefined) {
    const bare = realName.slice(realName.lastIndexOf('/') + 1);
    let path = '';
    try {
      const url = new URL(typeof resolved === 'string' ? resolved : '');
      if (url.protocol === 'https:' || url.protocol === 'http:')
        path = decodeURIComponent(url.pathname);
    } catch {
      path = '';
    }
    if (!path.endsWith(`/${realName}/-/${bare}-${version}.tgz`)) {
      issues.error(
        where,
        `resolved ${JSON.stringify(resolved)} is not the registry tarball of ${realName}@${version}: depend on a registry package`,
      );
      return;
    }
  }
  if (typeof integrity !== 'string' || !STRONG_INTEGRITY.test(integrity)) {
    issues.error(
      where,
      integrity === undefined
        ? 'has no integrity hash: regenerate the lockfile with `npm install` against the registry'
        : `integrity ${JSON.stringify(integrity)} is not a sha512 (or sha384, sha256) hash: regenerate the lockfile`,
    );
  }
}

/** The package name a v2/v3 `packages` key installs (`node_modules/a/node_modules/@s/b` → `@s/b`). */
function nameOfKey(key: string): string | undefined {
  const at = key.lastIndexOf('node_modules/');
  return at < 0 ? undefined : key.slice(at + 'node_modules/'.length);
}

/** Walks a v1 lockfile's nested `dependencies`. */
function checkV1(deps: unknown, where: string, issues: IssueCollector, depth: number): void {
  if (!isRecord(deps)) return;
  if (depth > 64) {
    issues.error(where, 'dependencies are nested more than 64 levels deep');
    return;
  }
  for (const [name, entry] of Object.entries(deps)) {
    const here = `${where}.dependencies[${JSON.stringify(name)}]`;
    if (!isRecord(entry)) {
      issues.error(here, 'is not an object');
      continue;
    }
    checkEntry(name, entry, here, issues);
    checkV1(entry.dependencies, here, issues, depth + 1);
  }
}

/** Checks one lockfile's content; `file` is its path in the KRT. */
export function checkLockfile(file: string, bytes: Buffer, issues: IssueCollector): void {
  const where = entryIssuePath(file);
  let lock: unknown;
  try {
    lock = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    issues.error(where, `is not valid JSON (${(error as Error).message}): regenerate it with npm`);
    return;
  }
  if (!isRecord(lock)) {
    issues.error(where, 'is not a JSON object: regenerate it with npm');
    return;
  }
  if (isRecord(lock.packages)) {
    for (const [key, entry] of Object.entries(lock.packages)) {
      if (key === '') continue;
      const here = `${where}.packages[${JSON.stringify(key)}]`;
      const name = nameOfKey(key);
      if (!isRecord(entry)) {
        issues.error(here, 'is not an object');
      } else if (name === undefined) {
        // A workspace folder of the project itself: npm would link it.
        issues.error(here, 'a workspace or folder package: depend on a registry package');
      } else {
        checkEntry(name, entry, here, issues);
      }
    }
    return;
  }
  checkV1(lock.dependencies, where, issues, 0);
}

/** The dependency rules over a KRT's file list and kept lockfiles. */
export function checkDependencies(
  layout: Pick<KrtLayout, 'files' | 'kept' | 'tooBig'>,
  issues: IssueCollector,
): void {
  for (const path of layout.files.keys()) {
    const segments = path.split('/');
    const base = segments[segments.length - 1];
    const folder = segments.slice(0, -1).find((s) => PACKAGE_MANAGER_FOLDERS.includes(s));
    if (isPackageManagerConfig(base) || folder) {
      issues.error(
        entryIssuePath(path),
        `${folder ? `the "${folder}" folder` : `"${base}"`} configures a package manager, which a KRT may not do (the engine sets registry and install options itself): remove it`,
      );
    }
  }
  for (const file of lockfilesOf(layout.files.keys())) {
    const bytes = layout.kept.get(file);
    if (!bytes) {
      issues.error(
        entryIssuePath(file),
        `${layout.tooBig.get(file) ?? `${file} could not be read`}: shrink the lockfile`,
      );
      continue;
    }
    checkLockfile(file, bytes, issues);
  }
}
