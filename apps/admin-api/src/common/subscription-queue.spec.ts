import { describe, expect, it, vi } from 'vitest';
import { SUBSCRIPTION_QUEUE_LIMIT, SubscriptionQueue } from './subscription-queue.js';

const queue = <T>(options: Partial<ConstructorParameters<typeof SubscriptionQueue<T>>[0]> = {}) =>
  new SubscriptionQueue<T>({ name: 'test', ...options });

/** Everything waiting, without blocking (stops at the first pending `next()`). */
async function drain<T>(sut: SubscriptionQueue<T>): Promise<T[]> {
  const out: T[] = [];
  while (sut.size > 0) {
    const result = await sut.next();
    if (result.done) break;
    out.push(result.value);
  }
  return out;
}

describe(SubscriptionQueue.name, () => {
  it('hands an event to a pending next(), and queues the rest in order', async () => {
    const sut = queue<number>();
    const pending = sut.next();
    sut.push(1);
    expect(await pending).toEqual({ value: 1, done: false });
    sut.push(2);
    sut.push(3);
    expect(await drain(sut)).toEqual([2, 3]);
    expect(sut.dropped).toBe(0);
  });

  it('drop-oldest: at most `limit` wait, the oldest go, and they are counted', async () => {
    const sut = queue<number>({ limit: 3 });
    for (let i = 1; i <= 5; i++) sut.push(i);
    expect(sut.size).toBe(3);
    expect(sut.dropped).toBe(2);
    expect(await drain(sut)).toEqual([3, 4, 5]);
  });

  it('holds SUBSCRIPTION_QUEUE_LIMIT events by default', () => {
    const sut = queue<number>();
    for (let i = 0; i < SUBSCRIPTION_QUEUE_LIMIT + 10; i++) sut.push(i);
    expect(sut.size).toBe(SUBSCRIPTION_QUEUE_LIMIT);
    expect(sut.dropped).toBe(10);
  });

  it('latest-per-key: a newer event replaces the waiting one of its key and queues last', async () => {
    const sut = queue<{ node: string; v: number }>({ keyOf: (e) => e.node });
    sut.push({ node: 'a', v: 1 });
    sut.push({ node: 'b', v: 1 });
    sut.push({ node: 'a', v: 2 });
    expect(sut.dropped).toBe(1);
    expect(await drain(sut)).toEqual([
      { node: 'b', v: 1 },
      { node: 'a', v: 2 },
    ]);
  });

  it('latest-per-key is bounded too: past `limit` keys the oldest goes', async () => {
    const sut = queue<string>({ keyOf: (e) => e, limit: 2 });
    for (const e of ['a', 'b', 'c']) sut.push(e);
    expect(sut.dropped).toBe(1);
    expect(await drain(sut)).toEqual(['b', 'c']);
  });

  it('return() ends a pending next() at once, discards what waits, releases the source once', async () => {
    const onEnd = vi.fn();
    const sut = queue<number>({ onEnd });
    const pending = sut.next();
    await expect(sut.return()).resolves.toEqual({ value: undefined, done: true });
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(onEnd).toHaveBeenCalledTimes(1);

    const waiting = queue<number>({ onEnd });
    waiting.push(1);
    await waiting.return();
    expect(waiting.size).toBe(0);
    expect(await waiting.next()).toEqual({ value: undefined, done: true });
    waiting.push(2); // the source may still push before it is released: ignored
    expect(waiting.size).toBe(0);
    await waiting.return();
    waiting.end();
    expect(onEnd).toHaveBeenCalledTimes(2);
  });

  it('a `for await` that breaks out releases the source', async () => {
    const onEnd = vi.fn();
    const sut = queue<number>({ onEnd });
    sut.push(1);
    sut.push(2);
    for await (const event of sut) if (event === 1) break;
    expect(onEnd).toHaveBeenCalledTimes(1);
    expect(sut.ended).toBe(true);
  });

  it('end() (the source is done): what waits is still delivered, then done', async () => {
    const onEnd = vi.fn();
    const sut = queue<number>({ onEnd });
    sut.push(1);
    sut.end();
    sut.push(2);
    expect(await sut.next()).toEqual({ value: 1, done: false });
    expect(await sut.next()).toEqual({ value: undefined, done: true });
    expect(onEnd).toHaveBeenCalledTimes(1);
  });

  it('throw() ends it and rejects with the error', async () => {
    const onEnd = vi.fn();
    const sut = queue<number>({ onEnd });
    sut.push(1);
    await expect(sut.throw(new Error('boom'))).rejects.toThrow('boom');
    expect(await sut.next()).toEqual({ value: undefined, done: true });
    expect(onEnd).toHaveBeenCalledTimes(1);
  });

  it('refuses a limit below 1', () => {
    expect(() => queue({ limit: 0 })).toThrow(RangeError);
  });
});
