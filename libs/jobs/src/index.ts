export {
  JOB_OPTIONS,
  runtimeJobDedupId,
  versionJobDedupId,
  type JobProgress,
  type RuntimeJobName,
  type RuntimeJobs,
  type RuntimeRef,
  type ScaleJobName,
  type VersionQueueJobName,
  type VersionJobs,
  type VersionRef,
} from './job-contracts.js';
export { RuntimeJobsProducer, VersionJobsProducer } from './job-producers.js';
export { JobsModule, type JobsOptions } from './jobs.module.js';
export { LeaderLease } from './leader-lease.js';
export {
  QUEUES,
  RUNTIMES_QUEUE,
  VERSIONS_QUEUE,
  redisCheck,
  redisOptions,
  type QueueName,
} from './queues.js';
