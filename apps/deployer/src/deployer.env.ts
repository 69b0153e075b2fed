import { baseEnv, mongoEnv, natsEnv, ports, redisEnv } from '@libs/config';
import { z } from 'zod';

export const deployerEnvSchema = z.object({
  ...baseEnv,
  ...mongoEnv,
  ...redisEnv,
  ...natsEnv,
  DEPLOYER_HOST: z.string().default('127.0.0.1'),
  /** `/health` and `/livez` only: the deployer serves no API. */
  DEPLOYER_HEALTH_PORT: ports.port(8081),
  ORCHESTRATOR: z.enum(['local', 'kubernetes']).default('local'),
  JOB_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
});

export type DeployerEnv = z.infer<typeof deployerEnvSchema>;
export const DEPLOYER_ENV = Symbol('DeployerEnv');
