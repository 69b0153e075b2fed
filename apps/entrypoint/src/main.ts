import { flushCompileCache } from 'node:module';
import { loadEnvOrExit } from '@libs/config';
import { composeEntrypoint, entrypointEnvSchema } from '@libs/entrypoint';
import { initTracing } from '@libs/observability/workload';
import { runWorkload } from '@libs/workload';

const env = loadEnvOrExit('entrypoint', entrypointEnvSchema);
await initTracing('entrypoint', env, {
  'kre.runtime': env.KRT_RUNTIME_ID,
  'kre.version': env.KRT_VERSION,
});
try {
  await runWorkload({
    app: 'entrypoint',
    env,
    connectionName: `entrypoint-${env.KRT_RUNTIME_ID}-${env.KRT_VERSION}`,
    readinessKey: 'servers',
    compose: (nc) => composeEntrypoint(env, { nc }),
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
