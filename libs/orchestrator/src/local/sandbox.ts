import { createHash } from 'node:crypto';
import { accessSync, constants, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

/**
 * The one-machine sandbox for tenant input (dependency installation and every workload), built
 * on bubblewrap (`bwrap`, Debian's `bubblewrap`): a fresh mount namespace that shows the system's
 * read-only program folders and only the paths the caller binds, its own PID, IPC and UTS
 * namespaces (no view of the engine's processes or their `/proc/<pid>/environ`), a private
 * `/tmp`, and exactly the environment given (nothing inherited).
 *
 * Identity: when the engine runs as root, the command drops to `uid` (which owns none of the
 * engine's files) with no supplementary groups, no capabilities and `no_new_privs`, via
 * util-linux's `setpriv`. Otherwise it runs in an unprivileged user namespace: still the engine's
 * uid to the kernel, but with none of the engine's files mounted. The network is shared (a
 * package registry must be reachable); what it can reach is the data-plane isolation's concern.
 */

/** Read-only system folders every sandbox sees (merged-/usr Debian: /bin, /lib are links). */
const SYSTEM_PATHS = ['/usr', '/bin', '/sbin', '/lib', '/lib64', '/etc/alternatives', '/etc/ssl'];
/** Name resolution and TLS, read-only: what a program needs to reach a registry by name. */
const SYSTEM_FILES = ['/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/host.conf'];

export interface SandboxSpec {
  /** The program and its arguments, as seen inside the sandbox. */
  command: string;
  args: readonly string[];
  /** The working folder inside the sandbox. */
  cwd: string;
  /** The whole environment of the command, on bwrap's command line (unless `inheritEnv`). */
  env: Readonly<Record<string, string>>;
  /**
   * Instead, the command takes bwrap's own environment, which the caller sets (a command line is
   * readable by every user of the machine, an environment only by its owner), minus `unset`,
   * plus `set` (on the command line: nothing secret). bwrap and its PID-namespace init keep the
   * environment they were started with in /proc/<pid>/environ; the command's is the result.
   */
  inheritEnv?: { unset: readonly string[]; set: Readonly<Record<string, string>> };
  /** Host paths shown read-only at `path` (program files: node, npm). */
  readOnly?: readonly { host: string; path: string }[];
  /** Host folders shown writable at `path`. */
  writable?: readonly { host: string; path: string }[];
  /** The uid and gid the command runs as when the engine is root. */
  uid: number;
  gid: number;
  /**
   * A workload outlives the engine that started it (a deployer restart adopts it): no
   * `--die-with-parent`. The sandbox ends when the command and whatever it started have
   * exited, or when its PID-namespace init (bwrap's child, which leads the session and process
   * group `--new-session` makes, the command's too) is killed.
   */
  outliveParent?: boolean;
}

/** `bwrap` and `setpriv` on this machine, or a clear error naming what to install. */
export interface SandboxTools {
  bwrap: string;
  setpriv: string;
}

/** The first executable `name` in the folders of `path`. */
export function findOnPath(name: string, path: string): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** @throws when bubblewrap or setpriv is missing (preparation must not run unsandboxed). */
export function sandboxTools(path = '/usr/local/bin:/usr/bin:/bin'): SandboxTools {
  const bwrap = findOnPath('bwrap', path);
  const setpriv = findOnPath('setpriv', path);
  if (!bwrap || !setpriv)
    throw new Error(
      `the sandbox needs ${bwrap ? '' : 'bwrap (Debian package "bubblewrap")'}${!bwrap && !setpriv ? ' and ' : ''}${setpriv ? '' : 'setpriv (util-linux)'}; scripts/setup installs them`,
    );
  return { bwrap, setpriv };
}

/** The real path of a program file, so a bind shows the file and not a dangling link. */
export function realProgramPath(path: string): string {
  return realpathSync(path);
}

/**
 * The `bwrap` command line that runs `spec` confined. `asRoot` is whether the engine is root
 * (`process.getuid() === 0`): then the command drops to `spec.uid`.
 */
export function sandboxArgv(
  spec: SandboxSpec,
  tools: SandboxTools,
  asRoot: boolean,
): { file: string; args: string[] } {
  const args = [
    ...(spec.outliveParent ? [] : ['--die-with-parent']),
    '--new-session',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--hostname',
    'sandbox',
    ...(spec.inheritEnv ? [] : ['--clearenv']),
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    // Its own shared memory (POSIX semaphores: Python's multiprocessing, joblib, data loaders).
    '--perms',
    '1777',
    '--tmpfs',
    '/dev/shm',
    // A /tmp of its own, writable by whoever it runs as (sticky, as a machine's /tmp is).
    '--perms',
    '1777',
    '--tmpfs',
    '/tmp',
  ];
  const readOnly = [...(spec.readOnly ?? [])];
  const writable = [...(spec.writable ?? [])];
  // bwrap makes missing parents of a mount point 0700 (root's): make them readable first.
  const parents = new Set<string>();
  for (const path of [
    ...SYSTEM_FILES,
    ...readOnly.map((r) => r.path),
    ...writable.map((w) => w.path),
  ]) {
    for (let dir = dirname(path); dir !== '/'; dir = dirname(dir)) parents.add(dir);
  }
  for (const dir of [...parents].sort()) args.push('--perms', '0755', '--dir', dir);
  for (const path of SYSTEM_PATHS) args.push('--ro-bind-try', path, path);
  for (const path of SYSTEM_FILES) args.push('--ro-bind-try', path, path);
  for (const { host, path } of readOnly) args.push('--ro-bind', host, path);
  for (const { host, path } of writable) args.push('--bind', host, path);
  if (spec.inheritEnv) {
    for (const key of spec.inheritEnv.unset) args.push('--unsetenv', key);
    for (const [key, value] of Object.entries(spec.inheritEnv.set))
      args.push('--setenv', key, value);
  } else {
    for (const [key, value] of Object.entries(spec.env)) args.push('--setenv', key, value);
  }
  args.push('--chdir', spec.cwd);
  if (asRoot) {
    args.push(
      '--',
      tools.setpriv,
      `--reuid=${spec.uid}`,
      `--regid=${spec.gid}`,
      '--clear-groups',
      '--no-new-privs',
      '--inh-caps=-all',
      '--bounding-set=-all',
    );
  } else {
    args.splice(0, 0, '--unshare-user', '--uid', String(spec.uid), '--gid', String(spec.gid));
    args.push('--');
  }
  args.push(spec.command, ...spec.args);
  return { file: tools.bwrap, args };
}

/** The uid and gid range of workloads: runtime `r` gets `uid + 1 + h(r) % range` (and gid alike). */
export interface SandboxIdRange {
  uid: number;
  gid: number;
  range: number;
}

/**
 * The uid and gid a runtime's workloads run as: stable (a hash of the runtime id, so a restarted
 * deployer computes the same), above the base that dependency installation uses, one per runtime
 * except for hash collisions (probability 1/range per pair of runtimes).
 */
export function runtimeIds(runtimeId: string, ids: SandboxIdRange): { uid: number; gid: number } {
  const offset = 1 + (createHash('sha256').update(runtimeId).digest().readUInt32BE(0) % ids.range);
  return { uid: ids.uid + offset, gid: ids.gid + offset };
}
