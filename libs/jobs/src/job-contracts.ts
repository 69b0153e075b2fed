import type { VersionJobName } from '@libs/core';

/** Which version a job is about, and who asked (audit; never secrets in job data). */
export interface VersionRef {
  runtimeId: string;
  versionName: string;
  by: string;
}

/**
 * Scale jobs of the `versions` queue (docs/lifecycle.md, "Sleep and wake"): they never change
 * the status; `sleep` releases an idle version's workloads, `wake` brings them back. Queued with
 * the same deduplication as the lifecycle jobs, so a burst of wake requests makes one job.
 */
export type ScaleJobName = 'sleep' | 'wake';

/** Every job name of the `versions` queue. */
export type VersionQueueJobName = VersionJobName | ScaleJobName;

export type VersionJobs = Record<VersionQueueJobName, VersionRef>;

export interface RuntimeRef {
  runtimeId: string;
  by: string;
}

/**
 * `update-quota` applies a runtime's changed quota to what it has made (its observability
 * stream's limits); it never changes the runtime's status.
 */
export type RuntimeJobName = 'create' | 'delete' | 'update-quota';
export type RuntimeJobs = Record<RuntimeJobName, RuntimeRef>;

/** Progress steps a job reports (QueueEvents → GraphQL subscriptions). */
export interface JobProgress {
  step: string;
  at: string;
}

/**
 * BullMQ job ids may not contain ':'; one in-flight job per (action, version): a second
 * request while one is queued or running is ignored by BullMQ's deduplication (so
 * `update-config` re-reads the config after rolling and rolls again if it changed meanwhile).
 */
export function versionJobDedupId(
  name: VersionQueueJobName,
  ref: Pick<VersionRef, 'runtimeId' | 'versionName'>,
): string {
  return `${name}_${ref.runtimeId}_${ref.versionName}`;
}

export function runtimeJobDedupId(
  name: RuntimeJobName,
  ref: Pick<RuntimeRef, 'runtimeId'>,
): string {
  return `${name}_${ref.runtimeId}`;
}

/** Retries for what may pass (NATS or Mongo blips); UnrecoverableError skips them. */
export const JOB_OPTIONS = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 2_000 },
  removeOnComplete: { count: 1_000 },
  removeOnFail: { age: 7 * 24 * 3_600 },
} as const;
