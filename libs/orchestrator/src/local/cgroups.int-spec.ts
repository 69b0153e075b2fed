import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Cgroups, joinArgs } from './cgroups.js';

/** Runs `node -e script` inside the groups; resolves with its exit code or signal and output. */
function runIn(procs: string[], script: string): Promise<{ status: string; output: string }> {
  const { file, args } = joinArgs(procs, process.execPath, ['-e', script]);
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('exit', (code, signal) => resolve({ status: signal ?? String(code), output }));
  });
}

const MiB = 2 ** 20;

describe(Cgroups.name, () => {
  it('confines a replica: its memory, CPU quota and process count are capped, from its first instruction', async () => {
    const cgroups = await Cgroups.detect('/sys/fs/cgroup', `kre-test-${process.pid}`);
    const name = 'replica-0';
    const procs = await cgroups.create(name, { memoryBytes: 96 * MiB, cpus: 0.5, pids: 64 });
    try {
      if (cgroups.mode === 'none') {
        // A machine without writable cgroups: nothing is wrapped, and /health says "none".
        expect(procs).toEqual([]);
        expect(joinArgs(procs, 'x', ['y'])).toEqual({ file: 'x', args: ['y'] });
        return;
      }
      expect(
        cgroups.read(name, 'cpu', cgroups.mode === 'cgroup-v2' ? 'cpu.max' : 'cpu.cfs_quota_us'),
      ).toMatch(/^50000/);
      // It is inside before it runs anything (the shell joins, then execs the program).
      const inside = await runIn(
        procs,
        "process.stdout.write(require('fs').readFileSync('/proc/self/cgroup','utf8'))",
      );
      expect(inside.output).toContain(name);
      expect(readFileSync('/proc/self/cgroup', 'utf8')).not.toContain(name);
      // Memory: holding 400 MiB ends in the kernel's OOM kill, not in the host's memory.
      const hog = await runIn(
        procs,
        'const a = []; for (let i = 0; i < 400; i++) a.push(Buffer.alloc(1024 * 1024, 1)); console.log("survived")',
      );
      expect(hog.output).not.toContain('survived');
      expect(hog.status).toBe('SIGKILL');
      // Processes: a fork bomb stops at the cap.
      const forks = await runIn(
        procs,
        `const { spawn } = require('child_process'); let ok = 0, failed = 0;
         for (let i = 0; i < 100; i++) { try { const c = spawn('sleep', ['0.3']); c.on('error', () => failed++); ok++; } catch { failed++; } }
         setTimeout(() => { console.log(JSON.stringify({ failed })); process.exit(0); }, 500);`,
      );
      expect(
        (JSON.parse(forks.output.trim().split('\n').pop()!) as { failed: number }).failed,
      ).toBeGreaterThan(0);
    } finally {
      // Once its processes are gone (the sleeps end on their own), the groups go.
      await new Promise((r) => setTimeout(r, 600));
      await cgroups.remove(name);
      await cgroups.removeBase();
      expect(cgroups.mode === 'none' || !existsSync(procs[0])).toBe(true);
    }
  });
});
