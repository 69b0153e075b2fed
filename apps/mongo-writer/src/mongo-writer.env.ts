import { baseEnv, mongoEnv, natsEnv, ports } from '@libs/config';
import {
  OBS_RETENTION_DEFAULT_DAYS,
  OBS_RETENTION_MAX_DAYS,
  OBS_RETENTION_MIN_DAYS,
} from '@libs/observability';
import { z } from 'zod';

export const mongoWriterEnvSchema = z.object({
  ...baseEnv,
  ...mongoEnv,
  ...natsEnv,
  MONGO_WRITER_HOST: z.string().default('127.0.0.1'),
  MONGO_WRITER_HEALTH_PORT: ports.port(8082),
  /**
   * Days of a runtime's observability records kept when its ADMIN has not set its own: older day
   * collections are dropped. The same value as admin-api's.
   */
  OBS_RETENTION_DAYS: z.coerce
    .number()
    .int()
    .min(OBS_RETENTION_MIN_DAYS)
    .max(OBS_RETENTION_MAX_DAYS)
    .default(OBS_RETENTION_DEFAULT_DAYS),
  /** How often retention runs (it also runs at start). */
  OBS_RETENTION_CHECK_MINUTES: z.coerce.number().int().min(1).max(1_440).default(60),
});

export type MongoWriterEnv = z.infer<typeof mongoWriterEnvSchema>;
