import { OtlpJsonReceiver, initTracing, tracing } from '@libs/observability';
import type { VersionRef } from '@libs/jobs';
import type { Job } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeployerEnv } from './deployer.env.js';
import { VersionsProcessor } from './jobs.processor.js';
import type { Progress, VersionDeploymentService } from './version-deployment.service.js';
import type { VersionLogService } from './version-log.service.js';
import type { VersionScaleService } from './version-scale.service.js';
import type { VersionsRepository } from '@libs/persistence';

type Ref = VersionRef;

/** A BullMQ job as the processor reads it. */
const jobOf = (name: string): Job<Ref> =>
  ({
    name,
    id: '42',
    data: { runtimeId: 'rt', versionName: 'v1', by: 'user-1' },
    attemptsMade: 0,
    opts: { attempts: 1 },
    updateProgress: () => Promise.resolve(),
  }) as unknown as Job<Ref>;

describe('VersionsProcessor traces', () => {
  afterEach(() => tracing().shutdown());

  it('gives each job attempt a span, its steps as events, failed when the job fails', async () => {
    const receiver = new OtlpJsonReceiver();
    const endpoint = await receiver.start();
    try {
      await initTracing('deployer', {
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_BSP_SCHEDULE_DELAY: 50,
      });
      // The job's work itself is not under test: a start that reports two steps, a stop that fails.
      const deployments = {
        start: async (_ref: Ref, progress: Progress) => {
          await progress('prepare');
          await progress('wait ready');
        },
        stop: () => Promise.reject(new UnrecoverableError('the driver refused')),
      } as unknown as VersionDeploymentService;
      const sut = new VersionsProcessor(
        deployments,
        {} as VersionsRepository,
        { log: () => undefined } as unknown as VersionLogService,
        {} as VersionScaleService,
        { JOB_CONCURRENCY: 1 } as DeployerEnv,
      );
      await sut.process(jobOf('start'));
      await expect(sut.process(jobOf('stop'))).rejects.toThrow('the driver refused');
      await tracing().shutdown(); // flushes

      const byName = Object.fromEntries(receiver.spans.map((s) => [s.name, s]));
      expect(byName['job versions.start']).toMatchObject({
        service: 'deployer',
        parentSpanId: '',
        attributes: {
          'kre.runtime': 'rt',
          'kre.version': 'v1',
          'kre.job_id': '42',
          'kre.job_attempt': 1,
        },
      });
      expect(byName['job versions.start'].events.map((e) => e.name)).toEqual([
        'prepare',
        'wait ready',
      ]);
      expect(byName['job versions.start'].status?.code ?? 0).not.toBe(2);
      expect(byName['job versions.stop'].status).toMatchObject({
        code: 2,
        message: 'the driver refused',
      });
    } finally {
      await receiver.stop();
    }
  });
});
