import { testEnv } from '@libs/testing';
import { type Job, Queue, QueueEvents, Worker } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { redisOptions } from './queues.js';

describe('BullMQ on the test Redis', () => {
  const env = testEnv();
  const closers: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
  });

  it('adds a job and a worker processes it once', async () => {
    const queue = new Queue('versions', {
      connection: redisOptions(env.REDIS_URL, 'producer'),
      prefix: env.KRE_PREFIX,
    });
    const events = new QueueEvents('versions', {
      connection: redisOptions(env.REDIS_URL, 'worker'),
      prefix: env.KRE_PREFIX,
    });
    const seen: unknown[] = [];
    const worker = new Worker(
      'versions',
      (job: Job<{ runtimeId: string }>) => {
        seen.push(job.data);
        return Promise.resolve(`started ${job.data.runtimeId}`);
      },
      { connection: redisOptions(env.REDIS_URL, 'worker'), prefix: env.KRE_PREFIX },
    );
    closers.push(
      () => queue.close(),
      () => events.close(),
      () => worker.close(),
    );
    await events.waitUntilReady();

    const job = await queue.add(
      'start',
      { runtimeId: 'demo' },
      { deduplication: { id: 'start_demo_v1' } },
    );
    await expect(job.waitUntilFinished(events, 10_000)).resolves.toBe('started demo');
    expect(seen).toEqual([{ runtimeId: 'demo' }]);
    expect(await queue.getJobCounts('completed')).toEqual({ completed: 1 });
  });

  it('keeps queues of two installations apart by prefix', async () => {
    const other = testEnv();
    const mine = new Queue('runtimes', {
      connection: redisOptions(env.REDIS_URL, 'producer'),
      prefix: env.KRE_PREFIX,
    });
    const theirs = new Queue('runtimes', {
      connection: redisOptions(env.REDIS_URL, 'producer'),
      prefix: other.KRE_PREFIX,
    });
    closers.push(
      () => mine.close(),
      () => theirs.close(),
    );
    await mine.add('create', { runtimeId: 'a' });
    expect(await mine.getJobCounts('wait')).toEqual({ wait: 1 });
    expect(await theirs.getJobCounts('wait')).toEqual({ wait: 0 });
  });
});
