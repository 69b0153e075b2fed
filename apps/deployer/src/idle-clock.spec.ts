import { describe, expect, it } from 'vitest';
import { IdleClock, type IdleCandidate } from './idle-clock.js';

const T0 = 1_000_000;
const version = (over: Partial<IdleCandidate> = {}): IdleCandidate => ({
  runtimeId: 'shop',
  versionName: 'v1',
  idleSeconds: 60,
  startedAtMs: T0,
  ...over,
});

describe(IdleClock.name, () => {
  it('puts a version to sleep once its idle time has passed since its start', () => {
    const sut = new IdleClock(T0 - 3_600_000);
    expect(sut.due([version()], T0 + 59_999)).toEqual([]);
    expect(sut.due([version()], T0 + 60_000)).toEqual([version()]);
  });

  it('restarts the idle time at each reported call', () => {
    const sut = new IdleClock(T0);
    sut.called('shop', 'v1', T0 + 50_000);
    expect(sut.isDue(version(), T0 + 100_000)).toBe(false);
    expect(sut.idleMs(version(), T0 + 100_000)).toBe(50_000);
    expect(sut.isDue(version(), T0 + 110_000)).toBe(true);
    // A report that arrives late never moves the clock back.
    sut.called('shop', 'v1', T0 + 10_000);
    expect(sut.idleMs(version(), T0 + 110_000)).toBe(60_000);
  });

  it("counts calls per version: one version's calls keep no other awake", () => {
    const sut = new IdleClock(T0);
    sut.called('shop', 'v2', T0 + 59_000);
    const due = sut.due([version(), version({ versionName: 'v2' })], T0 + 60_000);
    expect(due.map((v) => v.versionName)).toEqual(['v1']);
  });

  it('never sleeps a version with no idle time, nor one that is not awake', () => {
    const sut = new IdleClock(T0);
    const now = T0 + 86_400_000;
    expect(sut.isDue(version({ idleSeconds: 0 }), now)).toBe(false);
    expect(sut.isDue(version({ state: 'SLEEPING' }), now)).toBe(false);
    expect(sut.isDue(version({ state: 'WAKING' }), now)).toBe(false);
    expect(sut.isDue(version({ state: 'AWAKE' }), now)).toBe(true);
  });

  it('counts from a wake, and from its own start after a restart of the deployer', () => {
    const woke = version({ state: 'AWAKE', stateSinceMs: T0 + 500_000 });
    expect(new IdleClock(T0).isDue(woke, T0 + 559_999)).toBe(false);
    expect(new IdleClock(T0).isDue(woke, T0 + 560_000)).toBe(true);
    // A deployer that started later knows no earlier call: a whole idle time from its start.
    const restarted = new IdleClock(T0 + 900_000);
    expect(restarted.isDue(version(), T0 + 959_999)).toBe(false);
    expect(restarted.isDue(version(), T0 + 960_000)).toBe(true);
  });

  it('forgets the calls of versions that no longer run', () => {
    const sut = new IdleClock(T0);
    sut.called('shop', 'v1', T0 + 50_000);
    sut.retain([]);
    expect(sut.idleMs(version(), T0 + 60_000)).toBe(60_000);
  });
});
