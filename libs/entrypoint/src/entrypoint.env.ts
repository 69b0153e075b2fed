import { baseEnv, entrypointWorkloadEnv } from '@libs/config';
import { z } from 'zod';

export const entrypointEnvSchema = z.object({ ...baseEnv, ...entrypointWorkloadEnv });
export type EntrypointEnv = z.infer<typeof entrypointEnvSchema>;
