import { baseEnv, mongoEnv, natsEnv, ports } from '@libs/config';
import { z } from 'zod';

export const mongoWriterEnvSchema = z.object({
  ...baseEnv,
  ...mongoEnv,
  ...natsEnv,
  MONGO_WRITER_HOST: z.string().default('127.0.0.1'),
  MONGO_WRITER_HEALTH_PORT: ports.port(8082),
});

export type MongoWriterEnv = z.infer<typeof mongoWriterEnvSchema>;
