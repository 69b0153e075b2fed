import 'reflect-metadata';
import { loadEnvOrExit } from '@libs/config';
import { startHttpApp } from '@libs/observability';
import { EntrypointModule } from './entrypoint.module.js';
import { entrypointEnvSchema } from './entrypoint.env.js';

const env = loadEnvOrExit('entrypoint', entrypointEnvSchema);
await startHttpApp('entrypoint', EntrypointModule.forRoot(env), env, {
  host: '0.0.0.0',
  port: env.KRT_HEALTH_PORT,
});
