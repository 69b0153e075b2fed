import type { VersionRef } from '@libs/jobs';
import type { VersionsRepository } from '@libs/persistence';
import type { Job } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { DeployerEnv } from './deployer.env.js';
import { VersionsProcessor } from './jobs.processor.js';
import type { VersionDeploymentService } from './version-deployment.service.js';
import type { VersionLogService } from './version-log.service.js';
import type { VersionScaleService } from './version-scale.service.js';

/** A BullMQ job as the processor reads it, on its `attemptsMade`-th of `attempts` tries. */
const jobOf = (name: string, attemptsMade: number, attempts = 5): Job<VersionRef> =>
  ({
    name,
    id: '7',
    data: { runtimeId: 'rt', versionName: 'v1', by: 'gateway' },
    attemptsMade,
    opts: { attempts },
  }) as unknown as Job<VersionRef>;

/** What the processor does to the version after a failed job (the deployments' work is elsewhere). */
function processor() {
  const calls: string[] = [];
  const deployments = {
    failWake: (ref: VersionRef, reason: string) => {
      calls.push(`failWake ${ref.runtimeId}/${ref.versionName}: ${reason}`);
      return Promise.resolve();
    },
  } as unknown as VersionDeploymentService;
  const versions = {
    setStatus: (rt: string, v: string, status: string, why: string) => {
      calls.push(`setStatus ${rt}/${v} ${status}: ${why}`);
      return Promise.resolve();
    },
  } as unknown as VersionsRepository;
  const lines: string[] = [];
  const versionLog = {
    log: (_ref: VersionRef, level: string, text: string) => lines.push(`${level} ${text}`),
  } as unknown as VersionLogService;
  const sut = new VersionsProcessor(
    deployments,
    versions,
    versionLog,
    {} as VersionScaleService,
    {
      JOB_CONCURRENCY: 1,
    } as DeployerEnv,
  );
  return { sut, calls, lines };
}

describe('VersionsProcessor after a failed job', () => {
  it('a wake that failed for good puts the version in ERROR through failWake (routes and workloads go)', async () => {
    const { sut, calls, lines } = processor();
    await sut.onFailed(jobOf('wake', 5), new Error('workloads not ready within 60 s'));
    expect(calls).toEqual(['failWake rt/v1: workloads not ready within 60 s']);
    expect(lines).toEqual(['ERROR wake failed: workloads not ready within 60 s']);
  });

  it('an unrecoverable wake error is final at once', async () => {
    const { sut, calls } = processor();
    await sut.onFailed(jobOf('wake', 1), new UnrecoverableError('the KRT is gone'));
    expect(calls).toEqual(['failWake rt/v1: the KRT is gone']);
  });

  it('a wake that will be tried again changes nothing yet', async () => {
    const { sut, calls, lines } = processor();
    await sut.onFailed(jobOf('wake', 2), new Error('NATS blip'));
    expect(calls).toEqual([]);
    expect(lines).toEqual(['WARN wake failed: NATS blip (tried again)']);
  });

  it('a sleep that failed for good leaves the status alone (the next call wakes it)', async () => {
    const { sut, calls } = processor();
    await sut.onFailed(jobOf('sleep', 5), new Error('release failed'));
    expect(calls).toEqual([]);
  });

  it('any other job that failed for good puts the version in ERROR with the reason', async () => {
    const { sut, calls } = processor();
    await sut.onFailed(jobOf('start', 5), new Error('no port'));
    expect(calls).toEqual(['setStatus rt/v1 ERROR: start failed: no port']);
  });
});
