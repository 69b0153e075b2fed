import { InjectQueue } from '@nestjs/bullmq';
import {
  Inject,
  Injectable,
  Logger,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { VERSIONS_QUEUE, type VersionRef } from '@libs/jobs';
import { VersionsRepository } from '@libs/persistence';
import { type Queue, QueueEvents } from 'bullmq';
import { ADMIN_API_ENV, type AdminApiEnv } from '../admin-api.env.js';
import { redisOptions } from '@libs/jobs';
import { SubscriptionQueue } from '../common/subscription-queue.js';
import type { VersionEvent } from './versions.model.js';
import { versionScaleOf } from './version-scale.js';

/**
 * Feeds `watchVersion`: job progress steps and final statuses of the `versions` queue, read
 * through BullMQ QueueEvents (each admin-api replica reads them all, so any replica can serve
 * a subscriber), then looked up and handed to the runtime's subscribers, each through its own
 * SubscriptionQueue (drop-oldest: a stalled client loses the oldest steps, never memory).
 */
@Injectable()
export class VersionEventsService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(VersionEventsService.name);
  /** Subscribers by runtime id. */
  private readonly subscribers = new Map<string, Set<SubscriptionQueue<VersionEvent>>>();
  private events?: QueueEvents;
  /** The relay in progress (relay never rejects: it logs its failures). */
  private relaying: Promise<void> = Promise.resolve();

  constructor(
    @InjectQueue(VERSIONS_QUEUE) private readonly queue: Queue,
    private readonly versions: VersionsRepository,
    @Inject(ADMIN_API_ENV) private readonly env: AdminApiEnv,
  ) {}

  onModuleInit(): void {
    this.events = new QueueEvents(VERSIONS_QUEUE, {
      connection: redisOptions(this.env.REDIS_URL, 'worker'),
      prefix: this.env.KRE_PREFIX,
    });
    this.events.on('progress', ({ jobId, data }) => this.inOrder(() => this.relay(jobId, data)));
    this.events.on('completed', ({ jobId }) => this.inOrder(() => this.relay(jobId)));
    this.events.on('failed', ({ jobId }) => this.inOrder(() => this.relay(jobId)));
    this.events.on('error', (error) => this.logger.warn(`queue events: ${error.message}`));
  }

  async onModuleDestroy(): Promise<void> {
    for (const queues of [...this.subscribers.values()])
      for (const queue of [...queues]) queue.end();
    await this.events?.close();
  }

  /** Events of one runtime (the resolver has checked the caller's role on it). */
  subscribe(runtimeId: string): AsyncIterableIterator<VersionEvent> {
    const own = this.subscribers.get(runtimeId) ?? new Set();
    this.subscribers.set(runtimeId, own);
    const queue: SubscriptionQueue<VersionEvent> = new SubscriptionQueue<VersionEvent>({
      name: `watchVersion ${runtimeId}`,
      onEnd: () => {
        own.delete(queue);
        if (own.size === 0 && this.subscribers.get(runtimeId) === own)
          this.subscribers.delete(runtimeId);
      },
    });
    own.add(queue);
    return queue;
  }

  /**
   * Relays one event after the previous one: each relay awaits lookups, and without this a
   * later step could overtake an earlier one on its way to subscribers.
   */
  private inOrder(relay: () => Promise<void>): void {
    this.relaying = this.relaying.then(relay);
  }

  private async relay(jobId: string, progress?: unknown): Promise<void> {
    try {
      const job = await this.queue.getJob(jobId);
      if (!job) return;
      const ref = job.data as VersionRef;
      const version = await this.versions.find(ref.runtimeId, ref.versionName);
      const step =
        typeof progress === 'object' && progress !== null
          ? (progress as { step?: unknown }).step
          : undefined;
      const event: VersionEvent = {
        runtimeId: ref.runtimeId,
        versionName: ref.versionName,
        status: version?.status ?? null,
        step: typeof step === 'string' ? step : null,
        message: version?.statusMessage ?? null,
        scale: version ? versionScaleOf(version) : null,
        date: new Date(),
      };
      for (const queue of this.subscribers.get(ref.runtimeId) ?? []) queue.push(event);
    } catch (error) {
      this.logger.warn(`could not relay job ${jobId}: ${String(error)}`);
    }
  }
}
