export { InvalidEnvError, loadEnv, loadEnvOrExit } from './load-env.js';
export {
  SLUG,
  baseEnv,
  mongoEnv,
  natsEnv,
  ports,
  redisEnv,
  smtpEnv,
  urlEnv,
} from './env.fragments.js';
export {
  entrypointRoutesSchema,
  entrypointWorkloadEnv,
  runnerWorkloadEnv,
  workloadConfigValues,
  workloadEnv,
} from './workload.env.js';
