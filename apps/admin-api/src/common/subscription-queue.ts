import { Logger } from '@nestjs/common';

/** How many events a subscriber may have waiting before the oldest go (a stalled client). */
export const SUBSCRIPTION_QUEUE_LIMIT = 1_000;

export interface SubscriptionQueueOptions<T> {
  /** Logged with the count of dropped events when the subscription ends (`watchVersion rt-1`). */
  name: string;
  /** At most this many events wait; when full, the oldest goes. Default SUBSCRIPTION_QUEUE_LIMIT. */
  limit?: number;
  /**
   * Latest-per-key: an event replaces the waiting one with the same key (which counts as
   * dropped) and queues behind the others, so a slow client skips states but sees the newest.
   */
  keyOf?: (event: T) => string;
  /** Runs once, however the queue ends: release the source (unsubscribe, stop polling) here. */
  onEnd?: () => void;
}

const logger = new Logger('SubscriptionQueue');

/**
 * What every GraphQL subscription returns: a bounded async queue between a source that pushes
 * and graphql-ws, which pulls. Bounded: at most `limit` events wait (drop-oldest, or
 * latest-per-key with `keyOf`), and `dropped` counts what a slow client lost. `return()`, which
 * graphql-ws calls on unsubscribe or socket close, ends it at once, even while a `next()` is
 * pending (an async generator would wait for the next event), and releases the source.
 */
export class SubscriptionQueue<T> implements AsyncIterableIterator<T> {
  /** Events this subscriber will never see: the oldest when full, or replaced by a newer of the same key. */
  dropped = 0;
  /** Waiting events, oldest first; keys are `keyOf`'s, or a counter without it. */
  private readonly waiting = new Map<unknown, T>();
  private readonly pulls: ((result: IteratorResult<T>) => void)[] = [];
  private seq = 0;
  private done = false;
  private readonly limit: number;

  constructor(private readonly options: SubscriptionQueueOptions<T>) {
    this.limit = options.limit ?? SUBSCRIPTION_QUEUE_LIMIT;
    if (!(this.limit >= 1)) throw new RangeError(`limit must be at least 1, not ${this.limit}`);
  }

  /** Events waiting for the subscriber. */
  get size(): number {
    return this.waiting.size;
  }

  /** True once ended: pushes are ignored, `next()` gives what waits, then done. */
  get ended(): boolean {
    return this.done;
  }

  /** Hands `event` to a pending `next()`, or queues it within the bound. Ignored once ended. */
  push(event: T): void {
    if (this.done) return;
    const pull = this.pulls.shift();
    if (pull) return pull({ value: event, done: false });
    const key = this.options.keyOf ? this.options.keyOf(event) : this.seq++;
    if (this.waiting.delete(key)) this.dropped++;
    else if (this.waiting.size >= this.limit) {
      this.waiting.delete(this.waiting.keys().next().value);
      this.dropped++;
    }
    this.waiting.set(key, event);
  }

  /** The source has no more: what waits is still delivered, then the subscription completes. */
  end(): void {
    if (this.done) return;
    this.done = true;
    for (const pull of this.pulls.splice(0)) pull({ value: undefined, done: true });
    if (this.dropped > 0)
      logger.warn(`${this.options.name}: a slow subscriber lost ${this.dropped} events`);
    this.options.onEnd?.();
  }

  next(): Promise<IteratorResult<T>> {
    const first = this.waiting.entries().next();
    if (!first.done) {
      const [key, value] = first.value;
      this.waiting.delete(key);
      return Promise.resolve({ value, done: false });
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.pulls.push(resolve));
  }

  /** The subscriber leaves: nothing more is delivered and the source is released. */
  return(): Promise<IteratorResult<T>> {
    this.waiting.clear();
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error: unknown): Promise<IteratorResult<T>> {
    this.waiting.clear();
    this.end();
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
