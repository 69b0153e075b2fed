import 'reflect-metadata';
import { loadEnvOrExit } from '@libs/config';
import { startHttpApp } from '@libs/observability';
import { RunnerModule } from './runner.module.js';
import { runnerEnvSchema } from './runner.env.js';

const env = loadEnvOrExit('runner', runnerEnvSchema);
await startHttpApp('runner', RunnerModule.forRoot(env), env, {
  host: '0.0.0.0',
  port: env.KRT_HEALTH_PORT,
});
