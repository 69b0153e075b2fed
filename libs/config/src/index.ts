export { InvalidEnvError, loadEnv, loadEnvOrExit } from './load-env.js';
export {
  SLUG,
  baseEnv,
  configKeyEnv,
  jsonEnv,
  mongoEnv,
  natsEnv,
  ports,
  redisEnv,
  smtpEnv,
  urlEnv,
} from './env.fragments.js';
export {
  DRIVER_DECIDED_ENV,
  driverWorkloadEnv,
  entrypointRoutesSchema,
  entrypointWorkloadEnv,
  plannedWorkloadEnv,
  runnerEnvJsonSchema,
  runnerWorkloadEnv,
  SHARED_WORKLOADS_ENV,
  sharedProcessEnv,
  sharedWorkloadsSchema,
  workloadConfigValues,
  workloadEnv,
  type DriverWorkloadEnv,
  type PlannedWorkloadEnv,
  type SharedWorkloads,
} from './workload.env.js';
export { KrtPathError, resolveInsideKrt } from './workload.paths.js';
export { ConfigMasker, MASK, MIN_MASKED_LENGTH } from './config-masker.js';
export {
  MIN_OBS_BYTES,
  MIN_OBS_MAX_AGE_MS,
  defaultRuntimeQuota,
  runtimeQuotaEnv,
  workflowStreamEnv,
} from './quota.env.js';
