import { baseEnv, runnerWorkloadEnv } from '@libs/config';
import { z } from 'zod';

export const runnerEnvSchema = z.object({ ...baseEnv, ...runnerWorkloadEnv });
export type RunnerEnv = z.infer<typeof runnerEnvSchema>;
