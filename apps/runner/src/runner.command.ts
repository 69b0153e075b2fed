import { flushCompileCache } from 'node:module';
import { loadEnvOrExit } from '@libs/config';
import { WorkloadLogger, initTracing } from '@libs/observability/workload';
import { runWorkload } from '@libs/workload';
import { HandlerLoadError, loadHandlerModule } from './handler-module.loader.js';
import { composeRunner } from './runner.composition.js';
import { runnerEnvSchema } from './runner.env.js';
import { installStdioCapture } from './stdio.capture.js';

/** `runner`: loads the node's handler, then serves it until stopped (exits 1 if it cannot). */
export async function runnerCommand(): Promise<void> {
  const env = loadEnvOrExit('runner', runnerEnvSchema);
  await initTracing('runner', env, {
    'kre.runtime': env.KRT_RUNTIME_ID,
    'kre.version': env.KRT_VERSION,
    'kre.workflow': env.KRT_WORKFLOW_NAME,
    'kre.node': env.KRT_NODE_ID,
  });
  // Before any user code runs: what handlers print becomes log records.
  installStdioCapture();
  // User code may forget to await a send; log it rather than crash the replica.
  process.on('unhandledRejection', (reason) => {
    new WorkloadLogger('Runner').error(
      `unhandled rejection in node code: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`,
    );
  });

  let handlerModule;
  try {
    handlerModule = await loadHandlerModule(env.KRT_BASE_PATH, env.KRT_HANDLER_PATH);
  } catch (error) {
    if (!(error instanceof HandlerLoadError)) throw error;
    process.stderr.write(`runner: node "${env.KRT_NODE_ID}": ${error.message}\n`);
    process.exit(1);
  }
  try {
    await runWorkload({
      app: 'runner',
      env,
      connectionName: `runner-${env.KRT_RUNTIME_ID}-${env.KRT_VERSION}-${env.KRT_WORKFLOW_NAME}-${env.KRT_NODE_ID}`,
      readinessKey: 'consumers',
      compose: (nc) => composeRunner(env, { nc, handlerModule }),
    });
  } catch (error) {
    process.stderr.write(
      `runner: node "${env.KRT_NODE_ID}" cannot start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  }
  // With NODE_COMPILE_CACHE set (the local driver sets it), the next replica boots from cached
  // code; Node would only write the cache at a normal exit, and a stopped replica dies of SIGTERM.
  flushCompileCache();
}
