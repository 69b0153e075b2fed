import { Logger } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';

const MAX_QUEUED = 1_000;
const logger = new Logger('NatsEvents');

/**
 * JSON messages of a NATS subject, mapped, as an async iterator for a GraphQL subscription. Ending it
 * (`return()`, which graphql-ws calls on unsubscribe or socket close) unsubscribes at once,
 * even while a `next()` is pending (an async generator would wait for the next message).
 */
export function natsEvents<T>(
  nc: NatsConnection,
  subject: string,
  /** Turns a message into an event, or undefined to skip it. */
  map: (message: unknown) => T | undefined,
): AsyncIterableIterator<T> {
  const queue: T[] = [];
  const waiting: ((result: IteratorResult<T>) => void)[] = [];
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    sub.unsubscribe();
    for (const resolve of waiting.splice(0)) resolve({ value: undefined, done: true });
  };
  const sub = nc.subscribe(subject, {
    callback: (error, msg) => {
      if (error) return finish();
      let event: T | undefined;
      try {
        event = map(msg.json<unknown>());
      } catch {
        return logger.warn(`ignored a malformed message on ${subject}`);
      }
      if (event === undefined) return;
      const resolve = waiting.shift();
      if (resolve) return resolve({ value: event, done: false });
      if (queue.length >= MAX_QUEUED) queue.shift(); // a stalled client loses the oldest, not memory
      queue.push(event);
    },
  });
  const iterator: AsyncIterableIterator<T> = {
    next: () => {
      if (queue.length) return Promise.resolve({ value: queue.shift()!, done: false });
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => waiting.push(resolve));
    },
    return: () => {
      finish();
      return Promise.resolve({ value: undefined, done: true });
    },
    throw: (error: unknown) => {
      finish();
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}
