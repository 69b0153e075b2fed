import { baseEnv, runnerWorkloadEnv } from '@libs/config';
import { z } from 'zod';

export const runnerEnvSchema = z
  .object({ ...baseEnv, ...runnerWorkloadEnv })
  .refine(
    (env) =>
      (env.KRT_BATCH_MAX_SIZE === undefined) === (env.KRT_BATCH_MAX_LATENCY_MS === undefined),
    {
      path: ['KRT_BATCH_MAX_LATENCY_MS'],
      message: 'KRT_BATCH_MAX_SIZE and KRT_BATCH_MAX_LATENCY_MS are set together (the KRT batch)',
    },
  );
export type RunnerEnv = z.infer<typeof runnerEnvSchema>;
