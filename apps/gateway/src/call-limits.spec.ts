import { ManualClock } from '@libs/core';
import { describe, expect, it } from 'vitest';
import { CallLimits, type CallPermit, type LimitRefusal, isRefusal } from './call-limits.js';

const off = { ratePerSecond: 0, burst: 0, concurrency: 0 };

/** Calls `n` times at the clock's time; how many were admitted, and the permits. */
function attempt(sut: CallLimits, clock: ManualClock, n: number, runtimeId = 'a', keyId?: string) {
  const permits: CallPermit[] = [];
  const refusals: LimitRefusal[] = [];
  for (let i = 0; i < n; i++) {
    const result = sut.acquire(runtimeId, keyId, clock.now().getTime());
    if (isRefusal(result)) refusals.push(result);
    else permits.push(result);
  }
  return { permits, refusals };
}

describe(CallLimits.name, () => {
  it('lets a burst through, then the sustained rate, with a Retry-After from the refill time', () => {
    const clock = new ManualClock();
    const sut = new CallLimits({
      runtime: { ratePerSecond: 10, burst: 5, concurrency: 0 },
      key: off,
    });
    const first = attempt(sut, clock, 8);
    expect(first.permits).toHaveLength(5);
    expect(first.refusals).toHaveLength(3);
    expect(first.refusals[0]).toEqual({
      message: 'runtime "a" is over its rate limit of 10 calls per second: retry later',
      retryAfterSeconds: 1,
    });
    clock.advance(100); // one token back
    expect(attempt(sut, clock, 3).permits).toHaveLength(1);
    clock.advance(10_000); // refills to the burst, never beyond
    expect(attempt(sut, clock, 10).permits).toHaveLength(5);
  });

  it('says how long to wait when the rate is below one per second', () => {
    const clock = new ManualClock();
    const sut = new CallLimits({
      runtime: { ratePerSecond: 0.25, burst: 1, concurrency: 0 },
      key: off,
    });
    expect(attempt(sut, clock, 2).refusals[0].retryAfterSeconds).toBe(4);
  });

  it('bounds calls in flight; an ended call frees its slot once, however often it is released', () => {
    const clock = new ManualClock();
    const sut = new CallLimits({
      runtime: { ratePerSecond: 0, burst: 0, concurrency: 2 },
      key: off,
    });
    const { permits, refusals } = attempt(sut, clock, 3);
    expect(permits).toHaveLength(2);
    expect(refusals[0]).toMatchObject({ retryAfterSeconds: 1 });
    expect(refusals[0].message).toMatch(/2 calls in flight/);
    permits[0].release();
    permits[0].release();
    expect(attempt(sut, clock, 2).permits).toHaveLength(1);
  });

  it("keeps runtimes apart: one runtime's flood takes nothing from another's allowance", () => {
    const clock = new ManualClock();
    const sut = new CallLimits({
      runtime: { ratePerSecond: 100, burst: 100, concurrency: 10 },
      key: off,
    });
    const flood = attempt(sut, clock, 1_000, 'noisy');
    expect(flood.permits).toHaveLength(10); // concurrency, held
    expect(flood.refusals).toHaveLength(990);
    const quiet = attempt(sut, clock, 10, 'quiet');
    expect(quiet.refusals).toEqual([]);
  });

  it('limits each key inside its runtime, and a refused call takes nothing from either', () => {
    const clock = new ManualClock();
    const sut = new CallLimits({
      runtime: { ratePerSecond: 10, burst: 10, concurrency: 0 },
      key: { ratePerSecond: 3, burst: 3, concurrency: 0 },
    });
    const keyed = attempt(sut, clock, 5, 'a', 'k1');
    expect(keyed.permits).toHaveLength(3);
    expect(keyed.refusals[0].message).toBe(
      'this invocation key is over its rate limit of 3 calls per second: retry later',
    );
    // The runtime spent 3 of its 10: another key and key-less calls get the other 7.
    expect(attempt(sut, clock, 3, 'a', 'k2').permits).toHaveLength(3);
    expect(attempt(sut, clock, 10, 'a').permits).toHaveLength(4);
  });

  it('with every limit off, admits all', () => {
    const clock = new ManualClock();
    const sut = new CallLimits({ runtime: off, key: off });
    expect(attempt(sut, clock, 10_000, 'a', 'k').refusals).toEqual([]);
  });
});
