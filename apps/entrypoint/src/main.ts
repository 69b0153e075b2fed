import 'reflect-metadata';
import { loadEnvOrExit } from '@libs/config';
import { startHttpApp } from '@libs/observability';
import { EntrypointModule } from './entrypoint.module.js';
import { entrypointEnvSchema } from './entrypoint.env.js';

const env = loadEnvOrExit('entrypoint', entrypointEnvSchema);
try {
  await startHttpApp('entrypoint', EntrypointModule.forRoot(env), env, {
    host: env.KRT_LISTEN_HOST,
    port: env.KRT_HEALTH_PORT,
  });
} catch (error) {
  process.stderr.write(
    `entrypoint: cannot start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
}
