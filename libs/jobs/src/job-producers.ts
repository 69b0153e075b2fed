import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import {
  JOB_OPTIONS,
  type RuntimeJobName,
  type RuntimeJobs,
  type VersionJobs,
  type VersionQueueJobName,
  runtimeJobDedupId,
  versionJobDedupId,
} from './job-contracts.js';
import { RUNTIMES_QUEUE, VERSIONS_QUEUE } from './queues.js';

/** Queues version jobs for the deployer. Rejects when Redis cannot take the job. */
@Injectable()
export class VersionJobsProducer {
  constructor(@InjectQueue(VERSIONS_QUEUE) private readonly queue: Queue) {}

  add<N extends VersionQueueJobName>(name: N, data: VersionJobs[N]): Promise<Job> {
    return this.queue.add(name, data, {
      ...JOB_OPTIONS,
      deduplication: { id: versionJobDedupId(name, data) },
    });
  }
}

@Injectable()
export class RuntimeJobsProducer {
  constructor(@InjectQueue(RUNTIMES_QUEUE) private readonly queue: Queue) {}

  add<N extends RuntimeJobName>(name: N, data: RuntimeJobs[N]): Promise<Job> {
    return this.queue.add(name, data, {
      ...JOB_OPTIONS,
      deduplication: { id: runtimeJobDedupId(name, data) },
    });
  }
}
