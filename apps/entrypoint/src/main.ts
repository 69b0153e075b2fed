import 'reflect-metadata';
import { flushCompileCache } from 'node:module';
import { loadEnvOrExit } from '@libs/config';
import { initTracing, startHttpApp } from '@libs/observability';
import { EntrypointModule } from './entrypoint.module.js';
import { entrypointEnvSchema } from './entrypoint.env.js';

const env = loadEnvOrExit('entrypoint', entrypointEnvSchema);
await initTracing('entrypoint', env, {
  'kre.runtime': env.KRT_RUNTIME_ID,
  'kre.version': env.KRT_VERSION,
});
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
// With NODE_COMPILE_CACHE set (the local driver sets it), the next start boots from cached code;
// Node would only write the cache at a normal exit, and a stopped entrypoint dies of SIGTERM.
flushCompileCache();
