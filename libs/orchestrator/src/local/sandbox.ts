import { accessSync, constants, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

/**
 * The one-machine sandbox for tenant input (dependency installation now; workloads next), built
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
  /** The whole environment of the command. */
  env: Readonly<Record<string, string>>;
  /** Host paths shown read-only at `path` (program files: node, npm). */
  readOnly?: readonly { host: string; path: string }[];
  /** Host folders shown writable at `path`. */
  writable?: readonly { host: string; path: string }[];
  /** The uid and gid the command runs as when the engine is root. */
  uid: number;
  gid: number;
}

/** `bwrap` and `setpriv` on this machine, or a clear error naming what to install. */
export interface SandboxTools {
  bwrap: string;
  setpriv: string;
}

function findOnPath(name: string, path: string): string | undefined {
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
    '--die-with-parent',
    '--new-session',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--hostname',
    'sandbox',
    '--clearenv',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
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
  for (const [key, value] of Object.entries(spec.env)) args.push('--setenv', key, value);
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
