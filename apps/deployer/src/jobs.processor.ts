import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, type OnApplicationBootstrap, Optional } from '@nestjs/common';
import { VersionStatus } from '@libs/core';
import {
  RUNTIMES_QUEUE,
  VERSIONS_QUEUE,
  type RuntimeJobName,
  type RuntimeRef,
  type ScaleJobName,
  type VersionQueueJobName,
  type VersionRef,
} from '@libs/jobs';
import { type TracedSpan, tracing } from '@libs/observability';
import { RuntimesRepository, VersionsRepository } from '@libs/persistence';
import { type Job, UnrecoverableError } from 'bullmq';
import { Counter, Histogram, Registry } from 'prom-client';
import { DEPLOYER_ENV, type DeployerEnv } from './deployer.env.js';
import { RuntimeProvisioningService } from './runtime-provisioning.service.js';
import { type Progress, VersionDeploymentService } from './version-deployment.service.js';
import { VersionLogService } from './version-log.service.js';
import { VersionScaleService } from './version-scale.service.js';

/** Jobs that never change the version's status (scale to zero). */
const SCALE_JOBS: readonly string[] = ['sleep', 'wake'] satisfies ScaleJobName[];

function progressOf(job: Job): Progress {
  return (step) => job.updateProgress({ step, at: new Date().toISOString() });
}

/** What a job's log lines carry as fields. */
function fieldsOf(job: Job<{ runtimeId: string; versionName?: string }>): Record<string, string> {
  const { runtimeId, versionName } = job.data;
  return { runtimeId, ...(versionName ? { versionName } : {}), jobId: String(job.id) };
}

function isFinalFailure(job: Job, error: Error): boolean {
  return (
    error instanceof UnrecoverableError ||
    error.name === 'UnrecoverableError' ||
    job.attemptsMade >= (job.opts.attempts ?? 1)
  );
}

/**
 * How soon a job of a deployer that died (SIGKILL, lost machine) is picked up again: its lock
 * lapses after `lockDuration` (a live worker renews it every half of that) and the workers look
 * for such jobs every `stalledInterval`; BullMQ's defaults (30 s each) left a start in STARTING
 * for up to a minute. Job steps are asynchronous, so they never hold the event loop that long.
 */
const WORKER_OPTIONS = { lockDuration: 10_000, stalledInterval: 5_000 } as const;

/** The deployer's job series (docs/observability.md, "Prometheus"), one set per registry. */
const jobMetrics = new WeakMap<
  Registry,
  { jobs: Counter<'queue' | 'job' | 'outcome'>; seconds: Histogram<'queue' | 'job'> }
>();
function jobMetricsOf(registry: Registry) {
  let metrics = jobMetrics.get(registry);
  if (!metrics) {
    metrics = {
      jobs: new Counter({
        name: 'kre_jobs_total',
        help: 'Jobs run by the deployer: completed, failed (final) or retried',
        labelNames: ['queue', 'job', 'outcome'],
        registers: [registry],
      }),
      seconds: new Histogram({
        name: 'kre_job_duration_seconds',
        help: "One attempt's duration (queue, job name)",
        labelNames: ['queue', 'job'],
        buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
        registers: [registry],
      }),
    };
    jobMetrics.set(registry, metrics);
  }
  return metrics;
}

abstract class ConcurrentWorkerHost extends WorkerHost implements OnApplicationBootstrap {
  protected readonly jobMetrics: ReturnType<typeof jobMetricsOf>;

  constructor(
    private readonly concurrency: number,
    private readonly queueName: string,
    registry: Registry = new Registry(),
  ) {
    super();
    this.jobMetrics = jobMetricsOf(registry);
  }

  /** Counts the attempt, times it, and traces it (one span per attempt, its steps as events). */
  protected async measured<T>(
    job: Job<{ runtimeId: string; versionName?: string }>,
    run: (span: TracedSpan) => Promise<T>,
  ): Promise<T> {
    const labels = { queue: this.queueName, job: job.name };
    const done = this.jobMetrics.seconds.startTimer(labels);
    const span = tracing().start(`job ${this.queueName}.${job.name}`, {
      attributes: {
        'kre.runtime': job.data.runtimeId,
        'kre.version': job.data.versionName ?? '',
        'kre.job_id': String(job.id),
        'kre.job_attempt': job.attemptsMade + 1,
      },
    });
    try {
      const result = await span.run(() => run(span));
      this.jobMetrics.jobs.inc({ ...labels, outcome: 'completed' });
      return result;
    } catch (error) {
      span.fail(error);
      const final = error instanceof Error ? isFinalFailure(job, error) : true;
      this.jobMetrics.jobs.inc({ ...labels, outcome: final ? 'failed' : 'retried' });
      throw error;
    } finally {
      span.end();
      done();
    }
  }
  /** Concurrency comes from the environment, which decorators must not read. */
  onApplicationBootstrap(): void {
    this.worker.concurrency = this.concurrency;
  }
}

/** The `versions` queue: start, stop, publish, unpublish, update-config, delete; sleep, wake. */
@Processor(VERSIONS_QUEUE, WORKER_OPTIONS)
export class VersionsProcessor extends ConcurrentWorkerHost {
  private readonly logger = new Logger(VersionsProcessor.name);
  private readonly handlers: Record<
    VersionQueueJobName,
    (ref: VersionRef, progress: Progress) => Promise<void>
  >;

  constructor(
    private readonly deployments: VersionDeploymentService,
    private readonly versions: VersionsRepository,
    private readonly versionLog: VersionLogService,
    scale: VersionScaleService,
    @Inject(DEPLOYER_ENV) env: DeployerEnv,
    @Optional() registry?: Registry,
  ) {
    super(env.JOB_CONCURRENCY, VERSIONS_QUEUE, registry);
    this.handlers = {
      sleep: (r, p) => scale.sleep(r, p),
      wake: (r, p) => scale.wake(r, p),
      start: (r, p) => deployments.start(r, p),
      stop: (r, p) => deployments.stop(r, p),
      publish: (r, p) => deployments.publish(r, p),
      unpublish: (r, p) => deployments.unpublish(r, p),
      'update-config': (r, p) => deployments.updateConfig(r, p),
      delete: (r, p) => deployments.delete(r, p),
    };
  }

  async process(job: Job<VersionRef>): Promise<void> {
    const handler = this.handlers[job.name as VersionQueueJobName] as
      ((ref: VersionRef, progress: Progress) => Promise<void>) | undefined;
    if (!handler) throw new UnrecoverableError(`no handler for version job "${job.name}"`);
    this.logger.log(`version job ${job.name}`, { ...fieldsOf(job), attempt: job.attemptsMade + 1 });
    // Each step also goes to the version's logs, where its team looks (docs/observability.md).
    const jobId = String(job.id);
    const step = (text: string) => this.versionLog.log(job.data, 'INFO', text, { jobId });
    step(`${job.name}: begun (attempt ${job.attemptsMade + 1})`);
    const progress = progressOf(job);
    await this.measured(job, (span) =>
      handler(job.data, (name) => {
        span.event(name);
        step(`${job.name}: ${name}`);
        return progress(name);
      }),
    );
    step(`${job.name}: done`);
  }

  /** A job that will not be retried leaves the version in ERROR with the reason, never in STARTING. */
  @OnWorkerEvent('failed')
  async onFailed(job: Job<VersionRef> | undefined, error: Error): Promise<void> {
    if (!job) return;
    this.logger.warn(`version job ${job.name} failed: ${error.message}`, fieldsOf(job));
    const final = isFinalFailure(job, error);
    this.versionLog.log(
      job.data,
      final ? 'ERROR' : 'WARN',
      `${job.name} failed: ${error.message}${final ? '' : ' (tried again)'}`,
      { jobId: String(job.id) },
    );
    if (!final) return;
    // A wake that failed for good: ERROR, its routes and workloads gone (no call waits for ever).
    if (job.name === 'wake') {
      await this.deployments
        .failWake(job.data, error.message)
        .catch((e: unknown) =>
          this.logger.error(`could not mark the version ERROR: ${String(e)}`, fieldsOf(job)),
        );
      return;
    }
    // A failed sleep leaves the status alone: the version still runs (awake, or half released:
    // the next call wakes it).
    if (SCALE_JOBS.includes(job.name)) return;
    await this.versions
      .setStatus(
        job.data.runtimeId,
        job.data.versionName,
        VersionStatus.ERROR,
        `${job.name} failed: ${error.message}`,
      )
      .catch((e: unknown) =>
        this.logger.error(`could not mark the version ERROR: ${String(e)}`, fieldsOf(job)),
      );
  }
}

/** The `runtimes` queue: create, delete, update-quota. */
@Processor(RUNTIMES_QUEUE, WORKER_OPTIONS)
export class RuntimesProcessor extends ConcurrentWorkerHost {
  private readonly logger = new Logger(RuntimesProcessor.name);

  constructor(
    private readonly provisioning: RuntimeProvisioningService,
    private readonly runtimes: RuntimesRepository,
    @Inject(DEPLOYER_ENV) env: DeployerEnv,
    @Optional() registry?: Registry,
  ) {
    super(env.JOB_CONCURRENCY, RUNTIMES_QUEUE, registry);
  }

  async process(job: Job<RuntimeRef>): Promise<string[] | void> {
    const name = job.name as RuntimeJobName;
    this.logger.log(`runtime job ${name}`, fieldsOf(job));
    if (name === 'create')
      return this.measured(job, () => this.provisioning.create(job.data, progressOf(job)));
    if (name === 'delete')
      return this.measured(job, () => this.provisioning.delete(job.data, progressOf(job)));
    if (name === 'update-quota')
      return this.measured(job, () => this.provisioning.applyQuota(job.data));
    throw new UnrecoverableError(`no handler for runtime job "${job.name}"`);
  }

  @OnWorkerEvent('failed')
  async onFailed(job: Job<RuntimeRef> | undefined, error: Error): Promise<void> {
    if (!job || !isFinalFailure(job, error)) return;
    // The runtime still works with its previous limits: logged, its status left alone.
    if (job.name === 'update-quota') {
      this.logger.error(`runtime quota not applied: ${error.message}`, fieldsOf(job));
      return;
    }
    await this.runtimes
      .setStatus(job.data.runtimeId, 'ERROR', `${job.name} failed: ${error.message}`)
      .catch((e: unknown) =>
        this.logger.error(`could not mark the runtime ERROR: ${String(e)}`, fieldsOf(job)),
      );
  }
}
