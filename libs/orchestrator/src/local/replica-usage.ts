import { readFile, readdir } from 'node:fs/promises';
import type { Cgroups } from './cgroups.js';

/** Clock ticks per second of /proc/<pid>/stat's CPU times (USER_HZ: 100 on Linux's ABIs). */
const CLOCK_TICKS = 100;
/** Bytes per page of /proc/<pid>/statm (4 KiB on x86-64 and arm64 Linux). */
const PAGE_BYTES = 4096;

/** A replica's use at one moment: CPU time since it started, and memory now. */
export interface UsageSample {
  /** CPU seconds used (user + system) by the replica's processes. */
  cpuSeconds: number;
  /** Memory in bytes: its control group's `memory.current` (page cache included), or the RSS sum. */
  memoryBytes: number;
  /**
   * `cgroup`: the replica's control group (everything it forked); `proc`: its process tree;
   * `cgroup+proc`: memory from the group, CPU from the tree (cgroup v1 without cpuacct in the
   * driver's groups).
   */
  source: 'cgroup' | 'proc' | 'cgroup+proc';
}

/**
 * The replica's control group's counters; undefined when it has none or they cannot be read.
 * CPU is missing on cgroup v1 where cpuacct is not mounted with cpu (its own hierarchy, where
 * the driver makes no group).
 */
export function cgroupUsage(
  cgroups: Cgroups,
  name: string,
): { cpuSeconds?: number; memoryBytes: number } | undefined {
  const attempt = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch {
      return undefined; // gone, or not there on this machine
    }
  };
  if (cgroups.mode === 'cgroup-v2') {
    const usec = attempt(() => /^usage_usec (\d+)$/m.exec(cgroups.read(name, 'cpu', 'cpu.stat')));
    const memory = attempt(() => cgroups.read(name, 'memory', 'memory.current'));
    if (!usec || memory === undefined) return undefined;
    return { cpuSeconds: Number(usec[1]) / 1e6, memoryBytes: Number(memory) };
  }
  if (cgroups.mode === 'cgroup-v1') {
    const memory = attempt(() => cgroups.read(name, 'memory', 'memory.usage_in_bytes'));
    if (memory === undefined) return undefined;
    const ns = attempt(() => cgroups.read(name, 'cpu', 'cpuacct.usage'));
    return {
      cpuSeconds: ns === undefined ? undefined : Number(ns) / 1e9,
      memoryBytes: Number(memory),
    };
  }
  return undefined;
}

/**
 * One replica's use: its control group's counters where it has a group, the process tree rooted
 * at `pid` for what the group does not tell; undefined when the process is gone.
 */
export async function replicaUsage(
  pid: number,
  group?: { cgroups: Cgroups; name: string },
): Promise<UsageSample | undefined> {
  const counters = group ? cgroupUsage(group.cgroups, group.name) : undefined;
  if (counters?.cpuSeconds !== undefined)
    return { cpuSeconds: counters.cpuSeconds, memoryBytes: counters.memoryBytes, source: 'cgroup' };
  const tree = await processTreeUsage(pid);
  if (!tree) return undefined;
  return counters ? { ...tree, memoryBytes: counters.memoryBytes, source: 'cgroup+proc' } : tree;
}

/** CPU time and resident memory of one process, from /proc; undefined once it is gone. */
async function processUsage(
  pid: number,
): Promise<{ cpu: number; rss: number; ppid: number } | undefined> {
  try {
    const [stat, statm] = await Promise.all([
      readFile(`/proc/${pid}/stat`, 'utf8'),
      readFile(`/proc/${pid}/statm`, 'utf8'),
    ]);
    // Fields start after the command name's last ')': state is field 3, ppid 4, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(fields[1]),
      cpu: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS,
      rss: Number(statm.split(' ')[1]) * PAGE_BYTES,
    };
  } catch {
    return undefined;
  }
}

/**
 * The process `pid` and every process below it (a sandbox's bwrap, its init, the program and
 * what it forked), summed from /proc: the local driver's reading where a replica has no control
 * group. Undefined when `pid` is gone. CPU of children already ended is not counted.
 */
export async function processTreeUsage(pid: number): Promise<UsageSample | undefined> {
  const root = await processUsage(pid);
  if (!root) return undefined;
  const all = new Map<number, { cpu: number; rss: number; ppid: number }>([[pid, root]]);
  const pids = (await readdir('/proc')).filter((n) => /^\d+$/.test(n)).map(Number);
  const read = await Promise.all(pids.map(async (p) => [p, await processUsage(p)] as const));
  const children = new Map<number, number[]>();
  for (const [p, usage] of read) {
    if (!usage || p === pid) continue;
    all.set(p, usage);
    children.set(usage.ppid, [...(children.get(usage.ppid) ?? []), p]);
  }
  let cpuSeconds = 0;
  let memoryBytes = 0;
  const queue = [pid];
  const seen = new Set<number>();
  while (queue.length) {
    const p = queue.shift()!;
    if (seen.has(p)) continue;
    seen.add(p);
    const usage = all.get(p);
    if (usage) {
      cpuSeconds += usage.cpu;
      memoryBytes += usage.rss;
    }
    queue.push(...(children.get(p) ?? []));
  }
  return { cpuSeconds, memoryBytes, source: 'proc' };
}

/**
 * CPU use as a rate (cores: CPU seconds per second) from successive samples of the same replica
 * process; the first sample of a process has none.
 */
export class CpuRates {
  private readonly last = new Map<string, { cpuSeconds: number; at: number }>();

  /** `key` names one process run (e.g. its pid and start time): a restart starts over. */
  rate(key: string, cpuSeconds: number, at: number): number | undefined {
    const before = this.last.get(key);
    this.last.set(key, { cpuSeconds, at });
    if (!before || at <= before.at || cpuSeconds < before.cpuSeconds) return undefined;
    return (cpuSeconds - before.cpuSeconds) / ((at - before.at) / 1000);
  }

  /** Forgets the processes not in `live`. */
  keep(live: ReadonlySet<string>): void {
    for (const key of [...this.last.keys()]) if (!live.has(key)) this.last.delete(key);
  }
}
