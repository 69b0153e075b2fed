import { describe, expect, it } from 'vitest';
import {
  ReplicaAutoscaler,
  type AutoscalerOptions,
  type ScaleDecision,
} from './replica-autoscaler.js';

const OPTIONS: AutoscalerOptions = { target: 10, upAfterMs: 2_000, coolDownMs: 30_000 };

/** Feeds one sample a second from `from` (ms) for `seconds`, backlog given by `backlogAt(t)`. */
function run(
  sut: ReplicaAutoscaler,
  from: number,
  seconds: number,
  backlogAt: (t: number) => number,
): { at: number; decision: ScaleDecision }[] {
  const out: { at: number; decision: ScaleDecision }[] = [];
  for (let t = from; t < from + seconds * 1000; t += 1000) {
    const decision = sut.sample({ at: t, load: backlogAt(t) });
    if (decision) out.push({ at: t, decision });
  }
  return out;
}

describe(ReplicaAutoscaler.name, () => {
  it('scales up within 5 s of a sustained backlog, doubling at most per step', () => {
    const sut = new ReplicaAutoscaler(1, { min: 1, max: 8 }, OPTIONS);
    const changes = run(sut, 0, 10, () => 100); // wants 10, capped at 8
    expect(changes[0].at).toBeLessThanOrEqual(5_000);
    expect(changes.map((c) => c.decision.replicas)).toEqual([3, 7, 8]);
    expect(changes[0].decision.reason).toContain('backlog 100');
    expect(sut.replicas).toBe(8);
  });

  it('ignores a burst shorter than the up window', () => {
    const sut = new ReplicaAutoscaler(1, { min: 1, max: 8 }, OPTIONS);
    expect(run(sut, 0, 20, (t) => (t === 5_000 || t === 6_000 ? 500 : 0))).toEqual([]);
    expect(sut.replicas).toBe(1);
  });

  it("scales on an average load (the entrypoint's calls in flight), naming what it measures", () => {
    const options = { ...OPTIONS, target: 4, measure: 'calls in flight' };
    const sut = new ReplicaAutoscaler(1, { min: 1, max: 8 }, options);
    const changes = run(sut, 0, 3, () => 9.25); // wants ceil(9.25 / 4) = 3
    expect(changes.map((c) => c.decision)).toEqual([
      { replicas: 3, reason: 'calls in flight 9.3 for 2 s wants 3 (target 4 per replica)' },
    ]);
  });

  it('wants what handles the waiting messages within drainSeconds at the measured pace, when that is more', () => {
    const options = { ...OPTIONS, drainSeconds: 10 };
    // 30 waiting + 10 held: the target of 10 wants 4; at 0.25/s per replica, 12 within 10 s.
    const slow = new ReplicaAutoscaler(1, { min: 1, max: 20 }, options);
    for (let t = 0; t <= 2_000; t += 1000)
      slow.sample({ at: t, load: 40, waiting: 30, perReplicaRate: 0.25 });
    expect(slow.replicas).toBe(3); // at most doubling plus one per step, towards 12
    // A fast node (10/s per replica: 1 within 10 s), or no pace measured yet: the target rules.
    for (const perReplicaRate of [10, undefined]) {
      const sut = new ReplicaAutoscaler(1, { min: 1, max: 20 }, options);
      const changes = run(sut, 0, 3, () => 40);
      expect(changes.map((c) => c.decision.reason)).toEqual([
        'backlog 40 for 2 s wants 4 (target 10 per replica)',
      ]);
      for (let t = 3_000; t <= 5_000; t += 1000)
        sut.sample({ at: t, load: 40, waiting: 30, perReplicaRate });
      expect(sut.replicas).toBe(4); // the target's 4 (a pace of 0.25/s would go on to 7)
    }
  });

  it('scales down only after the cool-down, to the most any sample of it wanted', () => {
    const sut = new ReplicaAutoscaler(6, { min: 1, max: 8 }, OPTIONS);
    const changes = run(sut, 0, 61, (t) => (t < 10_000 ? 40 : 15)); // wants 4, then 2
    expect(changes.map((c) => [c.at, c.decision.replicas])).toEqual([
      [30_000, 4], // 30 s in which no sample wanted more than 4
      [60_000, 2], // another cool-down after that change
    ]);
  });

  it('does not flap under a square-wave load', () => {
    const sut = new ReplicaAutoscaler(1, { min: 1, max: 10 }, OPTIONS);
    // 10 s of a backlog wanting 6 replicas, 10 s of nothing, for five minutes.
    const changes = run(sut, 0, 300, (t) => (Math.floor(t / 10_000) % 2 === 0 ? 60 : 0));
    const replicas = changes.map((c) => c.decision.replicas);
    // Up to what the high half wants, then it stays: the quiet halves never last a cool-down.
    expect(replicas).toEqual([3, 6]);
    expect(sut.replicas).toBe(6);
    // Once the load stops, one cool-down later it goes down, once.
    const after = run(sut, 300_000, 60, () => 0);
    expect(after.map((c) => c.decision.replicas)).toEqual([1]);
  });

  it('keeps within the bounds a MANAGER sets, moving into new ones at once', () => {
    const sut = new ReplicaAutoscaler(2, { min: 2, max: 4 }, OPTIONS);
    run(sut, 0, 10, () => 1_000);
    expect(sut.replicas).toBe(4);
    expect(sut.setBounds({ min: 1, max: 3 })).toEqual({
      replicas: 3,
      reason: 'bounds set to 1..3',
    });
    expect(sut.setBounds({ min: 1, max: 3 })).toBeUndefined();
    expect(() => sut.setBounds({ min: 0, max: 3 })).toThrow('1 <= min <= max');
    expect(() => new ReplicaAutoscaler(1, { min: 3, max: 2 }, OPTIONS)).toThrow('min 3 and max 2');
  });
});
