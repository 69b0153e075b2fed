import { InjectQueue } from '@nestjs/bullmq';
import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { TRANSITIONAL_STATUSES, jobOutOf } from '@libs/core';
import { VERSIONS_QUEUE, VersionJobsProducer, versionJobDedupId } from '@libs/jobs';
import { VersionsRepository } from '@libs/persistence';
import type { Queue } from 'bullmq';

const PERIOD_MS = 15_000;

/**
 * Finds versions in a transitional status (STARTING, STOPPING, DELETING) with no live job (the
 * job was lost with Redis, or removed) and queues it again, so they converge instead of
 * staying stuck (a bug of KRE). Runs at start-up and then periodically.
 */
@Injectable()
export class ReconcilerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ReconcilerService.name);
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly versions: VersionsRepository,
    private readonly producer: VersionJobsProducer,
    @InjectQueue(VERSIONS_QUEUE) private readonly queue: Queue,
  ) {}

  onApplicationBootstrap(): void {
    void this.reconcile();
    this.timer = setInterval(() => void this.reconcile(), PERIOD_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async reconcile(): Promise<number> {
    let requeued = 0;
    try {
      for (const version of await this.versions.listByStatus(TRANSITIONAL_STATUSES)) {
        const name = jobOutOf(version.status);
        if (!name) continue;
        const ref = { runtimeId: version.runtimeId, versionName: version.name };
        const live = await this.queue.getDeduplicationJobId(versionJobDedupId(name, ref));
        if (live) {
          const job = await this.queue.getJob(live);
          const state = job ? await job.getState() : 'unknown';
          if (['active', 'waiting', 'delayed', 'prioritized', 'waiting-children'].includes(state))
            continue;
        }
        this.logger.warn(`${version.status} with no live job: queueing ${name} again`, ref);
        await this.producer.add(name, { ...ref, by: 'reconciler' });
        requeued += 1;
      }
    } catch (error) {
      this.logger.error(`reconcile failed: ${String(error)}`);
    }
    return requeued;
  }
}
