import { baseEnv, configKeyEnv, mongoEnv, natsEnv, ports, redisEnv } from '@libs/config';
import { z } from 'zod';

export const deployerEnvSchema = z
  .object({
    ...baseEnv,
    ...mongoEnv,
    ...redisEnv,
    ...natsEnv,
    ...configKeyEnv,
    DEPLOYER_HOST: z.string().default('127.0.0.1'),
    /** `/health` and `/livez` only: the deployer serves no API. */
    DEPLOYER_HEALTH_PORT: ports.port(8081),
    ORCHESTRATOR: z.enum(['local', 'kubernetes']).default('local'),
    JOB_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
    /** How long a start waits for every workload's /readyz. */
    WORKLOAD_READY_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3_600).default(120),
    /** The entrypoint's wait for a workflow's reply (`KRT_REQUEST_TIMEOUT`). */
    REQUEST_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3_600).default(30),
    /** Local driver state (registries, extracted KRTs, logs); default `<XDG_STATE_HOME>/<prefix>`. */
    KRE_STATE_DIR: z.string().min(1).optional(),
    XDG_STATE_HOME: z.string().min(1).optional(),
    HOME: z.string().min(1).default('/tmp'),
    /** Handed to workloads (with HOME); nothing else of the deployer's environment is. */
    PATH: z.string().default('/usr/local/bin:/usr/bin:/bin'),
    /** Folder of the built workload programs (`<dir>/runner/src/main.js`); default: beside the deployer. */
    KRE_WORKLOAD_PROGRAMS_DIR: z.string().min(1).optional(),
  })
  .transform((env) => ({
    ...env,
    stateDir:
      env.KRE_STATE_DIR ?? `${env.XDG_STATE_HOME ?? `${env.HOME}/.local/state`}/${env.KRE_PREFIX}`,
  }));

export type DeployerEnv = z.infer<typeof deployerEnvSchema>;
export const DEPLOYER_ENV = Symbol('DeployerEnv');
