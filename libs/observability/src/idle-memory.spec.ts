import { describe, expect, it } from 'vitest';
import { IdleMemoryTrimmer, processPorts } from './idle-memory.js';

/** A trimmer over a scripted event loop: each sample reads the next utilization. */
function scripted(utilization: number[]) {
  const seen = [...utilization];
  let collected = 0;
  const sut = new IdleMemoryTrimmer(
    { busy: () => seen.shift() ?? 0, collect: () => void collected++ },
    { sampleMs: 1_000, idleSamples: 3, idleBelow: 0.02 },
  );
  return {
    sut,
    run: () => {
      for (let i = 0; i < utilization.length; i++) sut.sample();
      return collected;
    },
  };
}

describe(IdleMemoryTrimmer.name, () => {
  it('collects once after a busy spell, once the loop has been idle for three samples', () => {
    const { run } = scripted([0.9, 0.8, 0.01, 0.0, 0.01, 0.0, 0.0, 0.0, 0.0]);
    expect(run()).toBe(1);
  });

  it('collects once after the boot (a busy spell of its own), then never in a process that stays idle', () => {
    expect(scripted([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).run()).toBe(1);
    expect(scripted([0, 0]).run()).toBe(0); // not idle long enough yet
  });

  it('never collects while the process works', () => {
    expect(scripted([0.5, 0.4, 0.6, 0.3, 0.7, 0.5]).run()).toBe(0);
  });

  it('waits for the idle spell to last: busy samples in between start the count again', () => {
    expect(scripted([0.9, 0.0, 0.0, 0.5, 0.0, 0.0]).run()).toBe(0);
    expect(scripted([0.9, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0]).run()).toBe(1);
  });

  it('collects again after each new busy spell', () => {
    expect(scripted([0.9, 0, 0, 0, 0.9, 0, 0, 0, 0, 0]).run()).toBe(2);
  });
});

describe('the process ports', () => {
  it("run V8's collection without giving user code a global gc", () => {
    const ports = processPorts();
    expect(ports.busy()).toBeGreaterThanOrEqual(0);
    const hadGc = 'gc' in globalThis;
    ports.collect();
    ports.collect();
    expect('gc' in globalThis).toBe(hadGc);
  });
});
