import { readFile, readdir } from 'node:fs/promises';

/**
 * Linux process facts from /proc. A pid alone is not an identity (pids are reused), so a
 * workload is the pair (pid, start time in clock ticks since boot).
 */

/** The process's start time (field 22 of /proc/<pid>/stat), or null if it is gone or a zombie. */
export async function processStartTime(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return null; // zombie or dead
    return Number(fields[19]);
  } catch {
    return null;
  }
}

/** True when `pid` is alive and is still the process that started at `startTime`. */
export async function isSameProcess(pid: number, startTime: number): Promise<boolean> {
  return (await processStartTime(pid)) === startTime;
}

/** Sends `signal` to the process group `pgid` (our workloads lead their own groups). */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Pids of processes whose environment has `name=value` (our ownership marker). */
export async function processesWithEnv(name: string, value: string): Promise<number[]> {
  const marker = `${name}=${value}`;
  const found: number[] = [];
  for (const pid of await allPids()) if (await hasEnv(pid, marker)) found.push(pid);
  return found;
}

/** Whether the environment of `pid` holds the `name=value` string `entry`. */
async function hasEnv(pid: number, entry: string): Promise<boolean> {
  try {
    return (await readFile(`/proc/${pid}/environ`, 'latin1')).split('\0').includes(entry);
  } catch {
    return false; // gone, or not ours to read
  }
}

/** Sends `signal` to one process; false when it is gone or not ours to signal. */
export function signalProcess(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Field `index` (0 = the state, field 3) of a process's stat, or null when it is gone. */
async function statField(pid: number, index: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[index]);
  } catch {
    return null;
  }
}

/** The parent pid of a process (field 4 of its stat), or null. */
function parentOf(pid: number): Promise<number | null> {
  return statField(pid, 1);
}

/** The process group of a process (field 5 of its stat), or null. */
export function processGroupOf(pid: number): Promise<number | null> {
  return statField(pid, 2);
}

/** Every live pid of the machine (as this process's PID namespace sees them). */
async function allPids(): Promise<number[]> {
  return (await readdir('/proc')).filter((e) => /^\d+$/.test(e)).map(Number);
}

/** Direct children of `pid`: /proc/<pid>/task/<tid>/children, else a scan of every ppid. */
async function childrenOf(pid: number): Promise<number[]> {
  try {
    const children: number[] = [];
    for (const tid of await readdir(`/proc/${pid}/task`)) {
      const text = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8');
      for (const child of text.split(' ')) if (child.trim()) children.push(Number(child));
    }
    return children;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return [];
    // A kernel without CONFIG_PROC_CHILDREN (or the process is gone): scan the ppids.
    const found: number[] = [];
    for (const candidate of await allPids()) {
      if ((await parentOf(candidate)) === pid) found.push(candidate);
    }
    return found;
  }
}

/** The descendants of `pid` that are at least `minDepth` generations below it (1 = children). */
export async function descendants(pid: number, minDepth = 1): Promise<number[]> {
  const found: number[] = [];
  let level = [pid];
  for (let depth = 1; level.length > 0 && depth < 64; depth++) {
    const next: number[] = [];
    for (const parent of level) next.push(...(await childrenOf(parent)));
    if (depth >= minDepth) found.push(...next);
    level = next;
  }
  return found;
}

/**
 * SIGKILLs a workload process and its process group (for a sandboxed workload, the group of its
 * sandbox's init: the whole sandbox); a process already gone is fine. For cleanups.
 */
export async function killWithGroup(pid: number): Promise<void> {
  const [group, ours] = [await processGroupOf(pid), await processGroupOf(process.pid)];
  if (group !== null && group > 1 && group !== ours) signalGroup(group, 'SIGKILL');
  signalProcess(pid, 'SIGKILL');
}
