import 'reflect-metadata';
import { loadEnvOrExit } from '@libs/config';
import { startHttpApp } from '@libs/observability';
import { MongoWriterModule } from './mongo-writer.module.js';
import { mongoWriterEnvSchema } from './mongo-writer.env.js';

const env = loadEnvOrExit('mongo-writer', mongoWriterEnvSchema);
await startHttpApp('mongo-writer', MongoWriterModule.forRoot(env), env, {
  host: env.MONGO_WRITER_HOST,
  port: env.MONGO_WRITER_HEALTH_PORT,
});
