import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { RUNTIMES_QUEUE, VERSIONS_QUEUE } from '@libs/jobs';
import { type Job, UnrecoverableError } from 'bullmq';
import { DEPLOYER_ENV, type DeployerEnv } from './deployer.env.js';

/**
 * Consumes the lifecycle queues. The job handlers (create/delete runtime; start, stop, publish…
 * version) arrive with the runtimes/versions issue; until then a job fails at once, visibly,
 * instead of being retried or silently dropped.
 */
abstract class LifecycleProcessor extends WorkerHost implements OnApplicationBootstrap {
  protected abstract readonly logger: Logger;

  constructor(@Inject(DEPLOYER_ENV) private readonly env: DeployerEnv) {
    super();
  }

  /** Concurrency comes from the environment, which decorators must not read. */
  onApplicationBootstrap(): void {
    this.worker.concurrency = this.env.JOB_CONCURRENCY;
  }

  process(job: Job): Promise<void> {
    this.logger.warn(`no handler for job "${job.name}" (id ${job.id})`);
    return Promise.reject(
      new UnrecoverableError(`no handler for job "${job.name}" on queue "${job.queueName}"`),
    );
  }
}

@Processor(RUNTIMES_QUEUE)
export class RuntimesProcessor extends LifecycleProcessor {
  protected readonly logger = new Logger(RuntimesProcessor.name);
}

@Processor(VERSIONS_QUEUE)
export class VersionsProcessor extends LifecycleProcessor {
  protected readonly logger = new Logger(VersionsProcessor.name);
}
