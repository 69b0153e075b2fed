import { flushCompileCache } from 'node:module';
import { loadEnvOrExit } from '@libs/config';
import { WorkloadLogger, initTracing } from '@libs/observability/workload';
import { runWorkload } from '@libs/workload';
import type { HandlerModule } from './handler.model.js';
import { HandlerLoadError, loadHandlerModule } from './handler-module.loader.js';
import { composeRunner } from './runner.composition.js';
import { type RunnerEnv, runnerEnvSchema } from './runner.env.js';
import { CaptureChannel, installStdioCapture } from './stdio.capture.js';

/** `runner`: loads the node's handler, then serves it until stopped (exits 1 if it cannot). */
export async function runnerCommand(): Promise<void> {
  const env = loadEnvOrExit('runner', runnerEnvSchema);
  await initTracing('runner', env, {
    'kre.runtime': env.KRT_RUNTIME_ID,
    'kre.version': env.KRT_VERSION,
    'kre.workflow': env.KRT_WORKFLOW_NAME,
    'kre.node': env.KRT_NODE_ID,
  });
  prepareForUserCode();
  const capture = new CaptureChannel();
  const handlerModule = await loadNodeOrExit(env, capture);
  try {
    await runWorkload({
      app: 'runner',
      env,
      connectionName: `runner-${env.KRT_RUNTIME_ID}-${env.KRT_VERSION}-${env.KRT_WORKFLOW_NAME}-${env.KRT_NODE_ID}`,
      readinessKey: 'consumers',
      compose: (nc) => composeRunner(env, { nc, handlerModule, capture }),
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

/**
 * Before any user code runs in this process: what handlers print becomes log records (their
 * node's), and a promise user code forgot to await is logged rather than crashing the process.
 */
export function prepareForUserCode(): void {
  installStdioCapture();
  process.on('unhandledRejection', (reason) => {
    new WorkloadLogger('Runner').error(
      `unhandled rejection in node code: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`,
    );
  });
}

/** The node's handler module, its top level's output to `capture`; exits 1 naming the node if it cannot load. */
export async function loadNodeOrExit(
  env: RunnerEnv,
  capture: CaptureChannel,
): Promise<HandlerModule> {
  try {
    return await loadHandlerModule(env.KRT_BASE_PATH, env.KRT_HANDLER_PATH, capture);
  } catch (error) {
    if (!(error instanceof HandlerLoadError)) throw error;
    process.stderr.write(`runner: node "${env.KRT_NODE_ID}": ${error.message}\n`);
    process.exit(1);
  }
}
