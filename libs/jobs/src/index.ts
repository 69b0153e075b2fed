export { JobsModule, type JobsOptions } from './jobs.module.js';
export {
  QUEUES,
  RUNTIMES_QUEUE,
  VERSIONS_QUEUE,
  redisCheck,
  redisOptions,
  type QueueName,
} from './queues.js';
