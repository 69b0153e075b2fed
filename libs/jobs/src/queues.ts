import type { ConnectionOptions, Queue } from 'bullmq';

/** BullMQ queues (prefix `<p>`, see docs/architecture.md "Jobs"). */
export const RUNTIMES_QUEUE = 'runtimes';
export const VERSIONS_QUEUE = 'versions';
export const QUEUES = [RUNTIMES_QUEUE, VERSIONS_QUEUE] as const;
export type QueueName = (typeof QUEUES)[number];

/** BullMQ connection options from `REDIS_URL`, for workers or producers. */
export function redisOptions(redisUrl: string, role: 'worker' | 'producer'): ConnectionOptions {
  return {
    url: redisUrl,
    // Workers block on Redis and must never give up a command; producers fail fast instead.
    ...(role === 'worker' ? { maxRetriesPerRequest: null } : { enableOfflineQueue: false }),
  };
}

/** Health check of the Redis behind a BullMQ queue. */
export function redisCheck(queue: Queue): { key: string; check: () => Promise<unknown> } {
  return { key: 'redis', check: () => queue.getJobCounts('wait') };
}
