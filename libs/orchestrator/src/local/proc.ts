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
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = await readFile(`/proc/${entry}/environ`, 'latin1');
      if (environ.split('\0').includes(marker)) found.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}
