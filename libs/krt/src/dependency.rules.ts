import type { KrtLayout } from './krt.contents.js';
import { entryIssuePath } from './entry-path.rules.js';
import type { IssueCollector } from './krt.errors.js';
import { runnerPinProblem } from './runner-pins.rules.js';

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

// ─── Python: requirements.txt ──────────────────────────────────────────────

/** The file a KRT declares a Python node's dependencies in (at its root or beside the src). */
export const REQUIREMENTS_FILE = 'requirements.txt';
/** Names a requirements file may include with `-r`/`-c` (kept in memory by the readers). */
export const REQUIREMENTS_NAME = /^(requirements|constraints)([-_.][A-Za-z0-9._-]*)?\.(txt|in)$/i;
/** Includes nested deeper than this are refused (a chain of `-r` lines). */
const MAX_REQUIREMENTS_DEPTH = 16;

/** What pip installs for a node, flattened by the engine: pip reads no file of the KRT. */
export interface PythonRequirements {
  /** Requirement lines (PEP 508, no options), in file order, includes expanded. */
  requirements: string[];
  /** The lines of `-c` constraint files, likewise. */
  constraints: string[];
}

/**
 * The requirements file of a Python node whose handler is `src`: the `requirements.txt` beside
 * it, else the KRT root's, else none; `files` are the KRT's files (or its `requirements` list).
 */
export function requirementsFileOf(src: string, files: Iterable<string>): string | undefined {
  const all = new Set(files);
  const slash = src.lastIndexOf('/');
  const beside = slash < 0 ? REQUIREMENTS_FILE : `${src.slice(0, slash)}/${REQUIREMENTS_FILE}`;
  if (all.has(beside)) return beside;
  return all.has(REQUIREMENTS_FILE) ? REQUIREMENTS_FILE : undefined;
}

// A PEP 508 requirement by name: name, extras, version specifiers, environment marker.
const REQ_NAME = String.raw`[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?`;
const REQ_EXTRAS = String.raw`\[\s*(?:${REQ_NAME}(?:\s*,\s*${REQ_NAME})*)?\s*\]`;
const REQ_CLAUSE = String.raw`(?:===|==|!=|<=|>=|~=|<|>)\s*[A-Za-z0-9.*+!_-]+`;
const REQ_SPEC = String.raw`\(?\s*${REQ_CLAUSE}(?:\s*,\s*${REQ_CLAUSE})*\s*\)?`;
const REQ_MARKER = String.raw`;[A-Za-z0-9_\s.'"<>=!~(),*+-]*`;
const REQUIREMENT = new RegExp(
  String.raw`^(${REQ_NAME})\s*(?:${REQ_EXTRAS})?\s*(?:${REQ_SPEC})?\s*(?:${REQ_MARKER})?$`,
);
/** A distribution file named as a requirement (pip installs it from the working folder). */
const ARCHIVE = /\.(whl|zip|tar\.gz|tgz|tar\.bz2)$/i;
/** `--hash=<algo>:<hex>` after a requirement: allowed, and not passed on (see docs/krt.md). */
const HASH_OPTION = /^--hash[=\s]\s*[a-z0-9]+:[0-9a-fA-F]+$/;
const INCLUDE = /^(-r|--requirement|-c|--constraint)(?:=|\s+|(?<=^-[rc]))(\S.*)$/;
/** Options that point pip somewhere else than the engine's index. */
const INDEX_OPTIONS =
  /^(-i|--index-url|--extra-index-url|--no-index|-f|--find-links|--trusted-host|--cert|--client-cert)\b/;

/** Why a requirement line that is not a plain `name[extras] spec ; marker` is refused. */
function requirementProblem(spec: string): string {
  if (spec.includes('$'))
    return 'environment variables (${...}) are not expanded: write the value out';
  if (/^(git|hg|svn|bzr)\+/i.test(spec) || /@\s*(git|hg|svn|bzr)\+/i.test(spec))
    return 'a version-control (VCS) dependency: depend on a package from the index';
  if (/\s@\s|^[^\s]+@/.test(spec) || /^[a-z][a-z0-9+.-]*:\/\//i.test(spec))
    return 'a direct URL reference installs code the index does not vouch for: depend on a package from the index (name and version)';
  if (/^(\.|\/|~|file:)/i.test(spec) || /[/\\]/.test(spec) || ARCHIVE.test(spec))
    return 'a local path or archive: depend on a package from the index (name and version)';
  return 'not a requirement pip reads as "name[extras] version ; marker": fix the line';
}

/** The logical lines of a requirements file (continuations joined, comments dropped). */
function logicalLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  const raw = text.replace(/^\ufeff/, '').split(/\r?\n/);
  for (let i = 0; i < raw.length; i++) {
    const first = i + 1;
    let current = raw[i];
    while (current.endsWith('\\') && i + 1 < raw.length) current = current.slice(0, -1) + raw[++i];
    const withoutComment = current.replace(/(^|\s)#.*$/, '').trim();
    if (withoutComment) out.push({ line: first, text: withoutComment });
  }
  return out;
}

/** Where a requirements file's content comes from: bytes, or why it could not be read. */
export type RequirementsSource = (path: string) => Buffer | { missing: string } | undefined;

/**
 * Checks a requirements file (and what it includes with `-r`/`-c`, which must be files of the
 * KRT) and flattens it: option lines other than includes, direct URLs, VCS and local paths are
 * refused naming the file and line. `read` gives a file's bytes (undefined: not in the KRT).
 */
export function flattenRequirements(
  file: string,
  read: RequirementsSource,
  issues: IssueCollector,
): PythonRequirements {
  const out: PythonRequirements = { requirements: [], constraints: [] };
  const visit = (path: string, into: 'requirements' | 'constraints', stack: string[]): void => {
    const where = entryIssuePath(path);
    const bytes = read(path);
    if (!bytes || !Buffer.isBuffer(bytes)) {
      issues.error(where, `${bytes?.missing ?? `${path} could not be read`}: shrink the file`);
      return;
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      issues.error(where, 'is not valid UTF-8: save it as UTF-8');
      return;
    }
    for (const { line, text: entry } of logicalLines(text)) {
      const at = `line ${line} ${JSON.stringify(entry.length > 80 ? `${entry.slice(0, 77)}...` : entry)}`;
      if (entry.startsWith('-')) {
        const include = INCLUDE.exec(entry);
        if (!include) {
          const option = entry.split(/[\s=]/)[0];
          issues.error(
            where,
            INDEX_OPTIONS.test(entry)
              ? `${at}: "${option}" points pip at another index or location; the engine installs from its own index (PYPI_INDEX_URL): remove the line`
              : option === '-e' || option === '--editable'
                ? `${at}: an editable install (-e) installs a folder or repository: depend on a package from the index`
                : `${at}: the option "${option}" is not allowed in a KRT (the engine sets pip's options itself): remove it`,
          );
          continue;
        }
        const kind = include[1] === '-c' || include[1] === '--constraint' ? 'constraints' : into;
        const target = include[2].trim();
        const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/') + 1) : '';
        const resolved = resolveInside(`${dir}${target}`);
        if (/^[a-z][a-z0-9+.-]*:/i.test(target) || resolved === undefined) {
          issues.error(
            where,
            `${at}: "${target}" is outside the KRT: include only requirement files of the KRT`,
          );
          continue;
        }
        if (stack.includes(resolved) || stack.length >= MAX_REQUIREMENTS_DEPTH) {
          issues.error(
            where,
            `${at}: "${target}" ${stack.includes(resolved) ? 'includes itself' : `is nested more than ${MAX_REQUIREMENTS_DEPTH} includes deep`}: remove the line`,
          );
          continue;
        }
        const base = resolved.slice(resolved.lastIndexOf('/') + 1);
        if (!REQUIREMENTS_NAME.test(base)) {
          issues.error(
            where,
            `${at}: "${target}" must be named requirements*.txt or constraints*.txt (the engine reads only those): rename it`,
          );
          continue;
        }
        if (read(resolved) === undefined) {
          issues.error(
            where,
            `${at}: "${target}" is not a file of the KRT: add it or fix the path`,
          );
          continue;
        }
        visit(resolved, kind, [...stack, resolved]);
        continue;
      }
      const [spec, ...options] = entry.split(/\s+(?=--?[a-z])/i);
      const badOption = options.find((o) => !HASH_OPTION.test(o));
      if (badOption) {
        issues.error(
          where,
          `${at}: the option "${badOption.split(/[\s=]/)[0]}" is not allowed in a KRT (only --hash may follow a requirement): remove it`,
        );
        continue;
      }
      if (!REQUIREMENT.test(spec.trim()) || ARCHIVE.test(spec.trim())) {
        issues.error(where, `${at}: ${requirementProblem(spec.trim())}`);
        continue;
      }
      const pin = runnerPinProblem(spec.trim());
      if (pin) {
        issues.error(where, `${at}: ${pin}`);
        continue;
      }
      out[into].push(spec.trim());
    }
  };
  visit(file, 'requirements', [file]);
  return out;
}

/** `a/b/../c` → `a/c`; undefined when it leaves the root or is absolute. */
function resolveInside(path: string): string | undefined {
  if (path.startsWith('/') || path.includes('\\')) return undefined;
  const out: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (!out.length) return undefined;
      out.pop();
    } else out.push(segment);
  }
  return out.length ? out.join('/') : undefined;
}

/**
 * The Python dependency rules: the requirements file each Python node uses (see
 * `requirementsFileOf`) is checked with what it includes. Returns those files, sorted.
 */
export function checkPythonRequirements(
  layout: Pick<KrtLayout, 'files' | 'kept' | 'tooBig'>,
  pythonSrcs: Iterable<string>,
  issues: IssueCollector,
): string[] {
  const used = new Set<string>();
  for (const src of pythonSrcs) {
    const file = requirementsFileOf(src, layout.files.keys());
    if (file) used.add(file);
  }
  const read: RequirementsSource = (path) => {
    if (!layout.files.has(path)) return undefined;
    const tooBig = layout.tooBig.get(path);
    return layout.kept.get(path) ?? { missing: tooBig ?? `${path} could not be read` };
  };
  const files = [...used].sort();
  for (const file of files) flattenRequirements(file, read, issues);
  return files;
}
