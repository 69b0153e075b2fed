import { fileURLToPath } from 'node:url';
import { runApp, waitForHttp } from '@libs/testing';
import { describeRunnerConformance } from './runner-conformance.js';

describeRunnerConformance({
  name: 'the Node.js runner (apps/runner)',
  krtDir: fileURLToPath(new URL('./fixtures/js', import.meta.url)),
  handler: 'conformance.mjs',
  start: async (env) => {
    const process = runApp('runner', env);
    await waitForHttp(`http://127.0.0.1:${env.KRT_HEALTH_PORT}/readyz`, process, 60_000);
    return { stop: () => process.stop(), kill: () => process.child.kill('SIGKILL') };
  },
});
