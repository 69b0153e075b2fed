import { Logger } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { SubscriptionQueue } from './subscription-queue.js';

const logger = new Logger('NatsEvents');

/**
 * JSON messages of a NATS subject, mapped, as a GraphQL subscription's SubscriptionQueue
 * (drop-oldest). Ending it unsubscribes from NATS at once; a NATS subscription that fails ends it.
 */
export function natsEvents<T>(
  nc: NatsConnection,
  subject: string,
  /** Turns a message into an event, or undefined to skip it. */
  map: (message: unknown) => T | undefined,
): SubscriptionQueue<T> {
  const queue: SubscriptionQueue<T> = new SubscriptionQueue<T>({
    name: subject,
    onEnd: () => {
      if (!nc.isClosed()) sub.unsubscribe();
    },
  });
  const sub = nc.subscribe(subject, {
    callback: (error, msg) => {
      if (error) return queue.end();
      let event: T | undefined;
      try {
        event = map(msg.json<unknown>());
      } catch {
        return logger.warn(`ignored a malformed message on ${subject}`);
      }
      if (event !== undefined) queue.push(event);
    },
  });
  return queue;
}
