import { ManualClock } from '@libs/core';
import type { WakeReply } from '@libs/messaging';
import { describe, expect, it } from 'vitest';
import { GatewayRefusal } from './admission.js';
import { type Schedule, WakeGate, grpcTimeoutMs } from './wake-gate.js';

/** Timers that fire only when the test moves the clock (`advance`). */
class ManualTimers {
  private readonly due = new Set<{ at: number; run: () => void }>();
  constructor(private readonly clock: ManualClock) {}
  readonly schedule: Schedule = (run, ms) => {
    const timer = { at: this.clock.now().getTime() + ms, run };
    this.due.add(timer);
    return () => this.due.delete(timer);
  };
  advance(ms: number): void {
    this.clock.advance(ms);
    const now = this.clock.now().getTime();
    for (const timer of [...this.due].sort((a, b) => a.at - b.at)) {
      if (timer.at > now) continue;
      this.due.delete(timer);
      timer.run();
    }
  }
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

function setup(reply: () => Promise<WakeReply> = () => Promise.resolve({ queued: true })) {
  const clock = new ManualClock();
  const timers = new ManualTimers(clock);
  const asked: string[] = [];
  const sut = new WakeGate(
    (runtimeId, versionName) => {
      asked.push(`${runtimeId}/${versionName}`);
      return reply();
    },
    { holdMs: 30_000, maxHeld: 3, retryMs: 1_000, deadlineMarginMs: 50 },
    clock,
    timers.schedule,
  );
  return { clock, timers, asked, sut };
}

/** How a held call ended: `awake`, or the refusal's code. */
function outcome(held: Promise<void>): { value?: string } {
  const result: { value?: string } = {};
  held.then(
    () => (result.value = 'awake'),
    (error: unknown) =>
      (result.value = error instanceof GatewayRefusal ? error.code : `threw ${String(error)}`),
  );
  return result;
}

describe(WakeGate.name, () => {
  it('holds a burst of calls, asks for one wake, and lets them all through once awake', async () => {
    const { asked, sut } = setup();
    const calls = Array.from({ length: 3 }, () => outcome(sut.hold('shop', 'v1')));
    await flush();
    expect(asked).toEqual(['shop/v1']);
    expect(sut.held).toBe(3);
    expect(calls.map((c) => c.value)).toEqual([undefined, undefined, undefined]);
    sut.routeChanged('shop', 'v1', 'WAKING'); // still asleep: still held
    await flush();
    expect(sut.held).toBe(3);
    sut.routeChanged('shop', 'v1', 'AWAKE');
    await flush();
    expect(calls.map((c) => c.value)).toEqual(['awake', 'awake', 'awake']);
    expect(sut.held).toBe(0);
    // The next sleep is a new burst: one more wake request.
    outcome(sut.hold('shop', 'v1'));
    expect(asked).toEqual(['shop/v1', 'shop/v1']);
  });

  it('refuses calls past the most held per version (RESOURCE_EXHAUSTED), not those of another', async () => {
    const { sut } = setup();
    for (let i = 0; i < 3; i++) outcome(sut.hold('shop', 'v1'));
    const fourth = outcome(sut.hold('shop', 'v1'));
    const other = outcome(sut.hold('shop', 'v2'));
    await flush();
    expect(fourth.value).toBe('RESOURCE_EXHAUSTED');
    expect(other.value).toBeUndefined();
    expect(sut.held).toBe(4);
  });

  it('answers UNAVAILABLE with Retry-After when the hold time runs out, never hangs', async () => {
    const { timers, sut } = setup();
    let refusal: GatewayRefusal | undefined;
    sut.hold('shop', 'v1').catch((error: GatewayRefusal) => (refusal = error));
    timers.advance(29_999);
    await flush();
    expect(refusal).toBeUndefined();
    timers.advance(1);
    await flush();
    expect(refusal?.code).toBe('UNAVAILABLE');
    expect(refusal?.httpStatus).toBe(503);
    expect(refusal?.message).toBe(
      'version "v1" of runtime "shop" is waking up and was not ready within 30000 ms: retry shortly',
    );
    expect(refusal?.headers['retry-after']).toBe('1');
    expect(sut.held).toBe(0);
  });

  it('answers a gRPC call before its own deadline, at once when it cannot be met', async () => {
    const { clock, timers, sut } = setup();
    const now = clock.now().getTime();
    const soon = outcome(sut.hold('shop', 'v1', now + 500));
    timers.advance(449);
    await flush();
    expect(soon.value).toBeUndefined();
    timers.advance(1); // 50 ms before the caller's deadline
    await flush();
    expect(soon.value).toBe('UNAVAILABLE');
    const tooShort = outcome(sut.hold('shop', 'v1', clock.now().getTime() + 20));
    await flush();
    expect(tooShort.value).toBe('UNAVAILABLE');
  });

  it("refuses at once a deadline shorter than the version's last wake", async () => {
    const { timers, clock, sut } = setup();
    outcome(sut.hold('shop', 'v1'));
    timers.advance(1_500);
    sut.routeChanged('shop', 'v1', 'AWAKE'); // this wake took 1.5 s
    await flush();
    const short = outcome(sut.hold('shop', 'v1', clock.now().getTime() + 1_000));
    const long = outcome(sut.hold('shop', 'v1', clock.now().getTime() + 5_000));
    await flush();
    expect(short.value).toBe('UNAVAILABLE');
    expect(long.value).toBeUndefined();
  });

  it('asks again after a failed wake request while calls are held', async () => {
    let failures = 1;
    const { asked, timers, sut } = setup(() =>
      failures-- > 0
        ? Promise.reject(new Error('503: no responders'))
        : Promise.resolve({ queued: true }),
    );
    const call = outcome(sut.hold('shop', 'v1'));
    outcome(sut.hold('shop', 'v1'));
    await flush();
    expect(asked).toHaveLength(1);
    timers.advance(1_000);
    await flush();
    expect(asked).toHaveLength(2);
    timers.advance(5_000);
    await flush();
    expect(asked).toHaveLength(2); // queued: no more asking for this sleep
    sut.routeChanged('shop', 'v1', 'AWAKE');
    await flush();
    expect(call.value).toBe('awake');
  });

  it('frees the slot of a caller that went away, and fails held calls of a stopped version', async () => {
    const { sut } = setup();
    const gone = new AbortController();
    const left = outcome(sut.hold('shop', 'v1', undefined, gone.signal));
    const stays = outcome(sut.hold('shop', 'v1'));
    gone.abort();
    expect(sut.held).toBe(1);
    sut.routeChanged('shop', 'v1', 'gone');
    await flush();
    expect(left.value).toBeUndefined();
    expect(stays.value).toBe('UNAVAILABLE');
  });
});

describe(grpcTimeoutMs.name, () => {
  it('reads the grpc-timeout header in every unit, and nothing else', () => {
    expect(grpcTimeoutMs('2S')).toBe(2_000);
    expect(grpcTimeoutMs('150m')).toBe(150);
    expect(grpcTimeoutMs('1M')).toBe(60_000);
    expect(grpcTimeoutMs('1H')).toBe(3_600_000);
    expect(grpcTimeoutMs('5000u')).toBe(5);
    expect(grpcTimeoutMs('3000000n')).toBe(3);
    expect(grpcTimeoutMs(undefined)).toBeUndefined();
    expect(grpcTimeoutMs('2s')).toBeUndefined();
    expect(grpcTimeoutMs('123456789S')).toBeUndefined();
  });
});
