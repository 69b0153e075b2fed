import { existsSync, readFileSync } from 'node:fs';
import { access, mkdir, rmdir, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';

/** What bounds a workload's memory, CPU and processes on this machine. */
export type LimitsMode = 'cgroup-v2' | 'cgroup-v1' | 'none';

/** One replica's limits (the version's settings, else the installation's defaults). */
export interface WorkloadLimits {
  /** Memory (and swap) in bytes; the kernel's OOM killer ends the replica beyond it. */
  readonly memoryBytes: number;
  /** CPUs (fractions allowed): a CFS quota per 100 ms period. */
  readonly cpus: number;
  /** Processes and threads (a fork bomb stops there). */
  readonly pids: number;
}

const PERIOD_US = 100_000;

/**
 * Control groups for the local driver's workloads, one per replica under `<root>/<base>/`: cgroup
 * v2 (the unified hierarchy) where the machine has it, v1 (one hierarchy per controller: memory,
 * cpu, pids) otherwise; `none` where neither is writable (not root, or a read-only /sys), which
 * the deployer reports at start (docs/security.md).
 *
 * A replica joins its groups before the sandbox starts (`joinArgs`: a shell writes its own pid
 * into each `cgroup.procs`, then execs bwrap), so everything it forks is inside from the start.
 */
export class Cgroups {
  private constructor(
    readonly mode: LimitsMode,
    private readonly root: string,
    private readonly base: string,
  ) {}

  /** Detects what this machine offers (`root`: /sys/fs/cgroup; `base`: our subtree's name). */
  static async detect(root = '/sys/fs/cgroup', base = 'kre'): Promise<Cgroups> {
    const writable = (path: string) =>
      access(path, constants.W_OK).then(
        () => true,
        () => false,
      );
    if (existsSync(join(root, 'cgroup.controllers'))) {
      const controllers = readFileSync(join(root, 'cgroup.controllers'), 'utf8').split(/\s+/);
      if (['memory', 'cpu', 'pids'].every((c) => controllers.includes(c)) && (await writable(root)))
        return new Cgroups('cgroup-v2', root, base);
      return new Cgroups('none', root, base);
    }
    const v1 = ['memory', 'cpu', 'pids'].map((c) => join(root, c));
    if ((await Promise.all(v1.map(writable))).every(Boolean))
      return new Cgroups('cgroup-v1', root, base);
    return new Cgroups('none', root, base);
  }

  /** Makes (or updates) a replica's groups; the `cgroup.procs` files it must join. */
  async create(name: string, limits: WorkloadLimits): Promise<string[]> {
    if (this.mode === 'none') return [];
    const memory = String(Math.floor(limits.memoryBytes));
    const quota = String(Math.max(1_000, Math.round(limits.cpus * PERIOD_US)));
    if (this.mode === 'cgroup-v2') {
      const parent = join(this.root, this.base);
      await mkdir(parent, { recursive: true });
      // The controllers must be on in every ancestor for the leaf to have them.
      await writeFile(join(this.root, 'cgroup.subtree_control'), '+memory +cpu +pids').catch(
        () => undefined,
      );
      await writeFile(join(parent, 'cgroup.subtree_control'), '+memory +cpu +pids');
      const dir = join(parent, name);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'memory.max'), memory);
      await writeFile(join(dir, 'memory.swap.max'), '0').catch(() => undefined);
      await writeFile(join(dir, 'cpu.max'), `${quota} ${PERIOD_US}`);
      await writeFile(join(dir, 'pids.max'), String(limits.pids));
      return [join(dir, 'cgroup.procs')];
    }
    const dirs = {
      memory: join(this.root, 'memory', this.base, name),
      cpu: join(this.root, 'cpu', this.base, name),
      pids: join(this.root, 'pids', this.base, name),
    };
    for (const dir of Object.values(dirs)) await mkdir(dir, { recursive: true });
    await writeFile(join(dirs.memory, 'memory.limit_in_bytes'), memory);
    // With swap accounting on, memory + swap is capped at the same figure (no escape to swap).
    await writeFile(join(dirs.memory, 'memory.memsw.limit_in_bytes'), memory).catch(
      () => undefined,
    );
    await writeFile(join(dirs.cpu, 'cpu.cfs_period_us'), String(PERIOD_US));
    await writeFile(join(dirs.cpu, 'cpu.cfs_quota_us'), quota);
    await writeFile(join(dirs.pids, 'pids.max'), String(limits.pids));
    return Object.values(dirs).map((dir) => join(dir, 'cgroup.procs'));
  }

  /**
   * Removes a replica's groups once its processes are gone; false while one still holds a
   * process (the kernel refuses), true when none is left (absent is fine).
   */
  async remove(name: string): Promise<boolean> {
    const dirs =
      this.mode === 'cgroup-v2'
        ? [join(this.root, this.base, name)]
        : this.mode === 'cgroup-v1'
          ? ['memory', 'cpu', 'pids'].map((c) => join(this.root, c, this.base, name))
          : [];
    let removed = true;
    for (const dir of dirs)
      await rmdir(dir).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') removed = false;
      });
    return removed;
  }

  /** Removes our (empty) subtree itself (an installation being removed; tests). */
  async removeBase(): Promise<void> {
    const dirs =
      this.mode === 'cgroup-v2'
        ? [join(this.root, this.base)]
        : this.mode === 'cgroup-v1'
          ? ['memory', 'cpu', 'pids'].map((c) => join(this.root, c, this.base))
          : [];
    for (const dir of dirs) await rmdir(dir).catch(() => undefined);
  }

  /** The value a group's file holds (tests, and the status of a replica). */
  read(name: string, controller: 'memory' | 'cpu' | 'pids', file: string): string {
    const dir =
      this.mode === 'cgroup-v2'
        ? join(this.root, this.base, name)
        : join(this.root, controller, this.base, name);
    return readFileSync(join(dir, file), 'utf8').trim();
  }
}

/**
 * The command that joins `procs` and then runs `file args`: `/bin/sh` writes its own pid into
 * each group and execs the program (same pid), so nothing the program starts is left outside.
 */
export function joinArgs(
  procs: readonly string[],
  file: string,
  args: readonly string[],
): { file: string; args: string[] } {
  if (procs.length === 0) return { file, args: [...args] };
  return {
    file: '/bin/sh',
    args: [
      '-c',
      'while [ "$1" != -- ]; do echo $$ > "$1" || exit 70; shift; done; shift; exec "$@"',
      'kre-cgroup',
      ...procs,
      '--',
      file,
      ...args,
    ],
  };
}
