import { type ChildProcess, spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { Cgroups, joinArgs } from './cgroups.js';
import { CpuRates, cgroupUsage, processTreeUsage, replicaUsage } from './replica-usage.js';

const MiB = 2 ** 20;
/** Holds 64 MiB, burns 400 ms of CPU, says `ready <pid>`, then waits. */
const WORK = `const b = Buffer.alloc(64 * 2 ** 20, 1); const t = process.cpuUsage();
while (process.cpuUsage(t).user < 400_000); console.log('ready ' + process.pid + ' ' + b[0]);
setInterval(() => {}, 1000);`;
/** Starts WORK in a child of the process started (a tree of two). */
const PARENT = `const c = require('child_process').spawn(process.execPath, ['-e', ${JSON.stringify(WORK)}], { stdio: 'inherit' });
setInterval(() => {}, 1000);`;

const started: ChildProcess[] = [];
afterEach(() => {
  // Each leads its own process group (detached): the group goes, grandchildren included.
  for (const child of started.splice(0))
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone already
    }
});

/** Runs `file args` and resolves with the pid the program reports once it is ready. */
function run(file: string, args: string[]): Promise<{ child: ChildProcess; worker: number }> {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  started.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const worker = /ready (\d+)/.exec(out)?.[1];
      if (worker) resolve({ child, worker: Number(worker) });
    });
    child.on('exit', (code) => reject(new Error(`exited ${code} before it was ready: ${out}`)));
  });
}

describe(processTreeUsage.name, () => {
  it("sums a replica's process tree from /proc: the memory and CPU of its children count", async () => {
    const { child, worker } = await run(process.execPath, ['-e', PARENT]);
    const tree = await processTreeUsage(child.pid!);
    const alone = await processTreeUsage(worker);
    expect(tree).toMatchObject({ source: 'proc' });
    expect(alone!.memoryBytes).toBeGreaterThanOrEqual(64 * MiB);
    expect(alone!.cpuSeconds).toBeGreaterThanOrEqual(0.3);
    // The parent's own memory and CPU on top of the child's.
    expect(tree!.memoryBytes).toBeGreaterThan(alone!.memoryBytes);
    expect(tree!.cpuSeconds).toBeGreaterThanOrEqual(alone!.cpuSeconds);
  });

  it('gives nothing for a process that is gone', async () => {
    const { child } = await run(process.execPath, ['-e', WORK]);
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGKILL');
    await exited;
    expect(await processTreeUsage(child.pid!)).toBeUndefined();
  });
});

describe(replicaUsage.name, () => {
  it("reads a replica's control group (everything it runs), and its process tree for what the group does not count", async () => {
    const cgroups = await Cgroups.detect('/sys/fs/cgroup', `kre-usage-test-${process.pid}`);
    if (cgroups.mode === 'none') {
      // A machine without writable cgroups: the driver reads the process tree instead.
      expect(cgroupUsage(cgroups, 'replica-0')).toBeUndefined();
      const { child } = await run(process.execPath, ['-e', PARENT]);
      expect(await replicaUsage(child.pid!)).toMatchObject({ source: 'proc' });
      return;
    }
    const procs = await cgroups.create('replica-0', { memoryBytes: 512 * MiB, cpus: 2, pids: 64 });
    try {
      const { file, args } = joinArgs(procs, process.execPath, ['-e', PARENT]);
      const { child } = await run(file, args);
      const usage = await replicaUsage(child.pid!, { cgroups, name: 'replica-0' });
      // v1 machines whose cpuacct is its own hierarchy: CPU from the tree.
      expect(usage!.source).toMatch(/^cgroup(\+proc)?$/);
      expect(usage!.memoryBytes).toBeGreaterThanOrEqual(64 * MiB);
      expect(usage!.cpuSeconds).toBeGreaterThanOrEqual(0.3);
      const exited = new Promise((done) => child.once('exit', done));
      process.kill(-child.pid!, 'SIGKILL');
      await exited;
    } finally {
      for (let i = 0; i < 50 && !(await cgroups.remove('replica-0')); i++)
        await new Promise((done) => setTimeout(done, 100));
      await cgroups.removeBase();
    }
  });
});

describe(CpuRates.name, () => {
  it('turns CPU seconds into cores between two readings of the same process run', () => {
    const sut = new CpuRates();
    expect(sut.rate('1:100', 10, 1_000)).toBeUndefined();
    expect(sut.rate('1:100', 11.5, 4_000)).toBe(0.5);
    // Another run of the replica (a restart) starts over.
    expect(sut.rate('2:300', 0.2, 5_000)).toBeUndefined();
    sut.keep(new Set(['2:300']));
    expect(sut.rate('1:100', 12, 6_000)).toBeUndefined();
  });
});
