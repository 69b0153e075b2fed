import { describe, expect, it } from 'vitest';
import type { HandlerModule } from './handler.model.js';
import {
  type BatchTimer,
  MessageBatcher,
  batchOutcomes,
  batchSettingsOf,
  inFlightBound,
} from './message.batcher.js';
import type { RunnerEnv } from './runner.env.js';

/** A timer the test moves by hand: no wall clock. */
function manualTimer() {
  let now = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let next = 0;
  const timer: BatchTimer = {
    set: (fn, ms) => {
      timers.set(++next, { at: now + ms, fn });
      return next;
    },
    clear: (handle) => void timers.delete(handle as number),
  };
  const advance = (ms: number) => {
    now += ms;
    for (const [id, t] of [...timers]) {
      if (t.at <= now) {
        timers.delete(id);
        t.fn();
      }
    }
  };
  return { timer, advance, pending: () => timers.size };
}

describe(MessageBatcher.name, () => {
  it('hands out a batch as soon as it holds maxSize items, in arrival order', () => {
    const { timer, pending } = manualTimer();
    const batches: number[][] = [];
    const sut = new MessageBatcher<number>(
      { maxSize: 3, maxLatencyMs: 50 },
      (b) => batches.push(b),
      timer,
    );
    for (const n of [1, 2, 3, 4]) sut.add(n);
    expect(batches).toEqual([[1, 2, 3]]);
    expect(sut.waiting).toBe(1);
    expect(pending()).toBe(1); // the 4th item's batch waits for its latency
  });

  it('hands out what it holds maxLatencyMs after the first item, not later items', () => {
    const { timer, advance } = manualTimer();
    const batches: string[][] = [];
    const sut = new MessageBatcher<string>(
      { maxSize: 10, maxLatencyMs: 20 },
      (b) => batches.push(b),
      timer,
    );
    sut.add('a');
    advance(15);
    sut.add('b');
    expect(batches).toEqual([]);
    advance(5); // 20 ms after "a"
    expect(batches).toEqual([['a', 'b']]);
    sut.add('c');
    advance(19);
    expect(batches).toHaveLength(1);
    advance(1);
    expect(batches).toEqual([['a', 'b'], ['c']]);
  });

  it('flush() hands out at once and cancels the timer; an empty flush hands out nothing', () => {
    const { timer, advance, pending } = manualTimer();
    const batches: number[][] = [];
    const sut = new MessageBatcher<number>(
      { maxSize: 8, maxLatencyMs: 1_000 },
      (b) => batches.push(b),
      timer,
    );
    sut.flush();
    sut.add(7);
    sut.flush();
    expect(batches).toEqual([[7]]);
    expect(pending()).toBe(0);
    advance(1_000);
    expect(batches).toEqual([[7]]);
  });

  it('with maxLatencyMs 0, a lone item goes at the next turn of the timer', () => {
    const { timer, advance } = manualTimer();
    const batches: number[][] = [];
    const sut = new MessageBatcher<number>(
      { maxSize: 8, maxLatencyMs: 0 },
      (b) => batches.push(b),
      timer,
    );
    sut.add(1);
    sut.add(2);
    advance(0);
    expect(batches).toEqual([[1, 2]]);
  });
});

describe(batchOutcomes.name, () => {
  it('gives each item its own entry, an Error entry failing that item alone', () => {
    const boom = new Error('item 2 is bad');
    expect(batchOutcomes([{ a: 1 }, boom, undefined], 3)).toEqual([
      { ok: true, value: { a: 1 } },
      { ok: false, error: boom },
      { ok: true, value: undefined },
    ]);
  });

  it('reads no result as nothing to send for each item', () => {
    expect(batchOutcomes(undefined, 2)).toEqual([
      { ok: true, value: undefined },
      { ok: true, value: undefined },
    ]);
  });

  it('fails every item, saying what to return, when the result does not match the batch', () => {
    const short = batchOutcomes([1, 2], 3);
    expect(short.every((o) => !o.ok)).toBe(true);
    expect(short.map((o) => (o.ok ? '' : o.error.message))[0]).toBe(
      'handlerBatch returned 2 results for 3 messages: return one per item, in order (undefined for no output)',
    );
    const notList = batchOutcomes({ a: 1 }, 2);
    expect(notList.map((o) => (o.ok ? '' : o.error.message))).toEqual([
      expect.stringContaining('handlerBatch returned object: return an array'),
      expect.stringContaining('handlerBatch returned object: return an array'),
    ]);
  });
});

describe(batchSettingsOf.name, () => {
  const env = (extra: Partial<RunnerEnv> = {}) =>
    ({ KRT_HANDLER_PATH: 'src/n.mjs', KRT_MAX_IN_FLIGHT: 16, ...extra }) as RunnerEnv;
  const mod = (keys: Partial<HandlerModule>): HandlerModule => ({ handlers: {}, ...keys });
  const fn = () => undefined;

  it("leaves KRE's modules alone: handler/handlers without batch run one message per call", () => {
    expect(batchSettingsOf(env(), mod({ handler: fn }))).toBeUndefined();
    expect(batchSettingsOf(env(), mod({ handler: fn, handlerBatch: fn }))).toBeUndefined();
  });

  it('takes the KRT batch from the env, and batches of one for a module with only handlerBatch', () => {
    const batched = env({ KRT_BATCH_MAX_SIZE: 32, KRT_BATCH_MAX_LATENCY_MS: 5 });
    expect(batchSettingsOf(batched, mod({ handler: fn, handlerBatch: fn }))).toEqual({
      maxSize: 32,
      maxLatencyMs: 5,
    });
    expect(batchSettingsOf(env(), mod({ handlerBatch: fn }))).toEqual({
      maxSize: 1,
      maxLatencyMs: 0,
    });
  });

  it('refuses a KRT batch for a module without handlerBatch, saying what to export', () => {
    expect(() =>
      batchSettingsOf(
        env({ KRT_BATCH_MAX_SIZE: 4, KRT_BATCH_MAX_LATENCY_MS: 1 }),
        mod({ handler: fn }),
      ),
    ).toThrow(
      /sets "batch" \(KRT_BATCH_MAX_SIZE=4\), so it must export `handlerBatch\(ctx, items\)`/,
    );
  });

  it('holds at least two full batches, so a maxSize above KRT_MAX_IN_FLIGHT cannot starve', () => {
    expect(inFlightBound(env(), undefined)).toBe(16);
    expect(inFlightBound(env(), { maxSize: 4, maxLatencyMs: 1 })).toBe(16);
    expect(inFlightBound(env(), { maxSize: 64, maxLatencyMs: 1 })).toBe(128);
  });
});
