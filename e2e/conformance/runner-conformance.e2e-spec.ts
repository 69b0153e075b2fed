import { fileURLToPath } from 'node:url';
import { type AppProcess, runApp, waitForHttp } from '@libs/testing';
import { runPythonRunner } from './python-runner.js';
import { type RunnerUnderTest, describeRunnerConformance } from './runner-conformance.js';

/** Resolves once the runner's /readyz answers 200; stop and kill for the suite. */
async function ready(process: AppProcess, env: Record<string, string>) {
  await waitForHttp(`http://127.0.0.1:${env.KRT_HEALTH_PORT}/readyz`, process, 60_000);
  return { stop: () => process.stop(), kill: () => process.child.kill('SIGKILL') };
}

const pythonFixtures = fileURLToPath(new URL('../../runners/python/conformance', import.meta.url));

/** The same suite over both runners, the Python one with a fixture per KRE handler API. */
const runners: RunnerUnderTest[] = [
  {
    name: 'the Node.js runner (apps/runner)',
    api: 'js',
    krtDir: fileURLToPath(new URL('./fixtures/js', import.meta.url)),
    handler: 'conformance.mjs',
    start: async (env) => ready(runApp('runner', env), env),
  },
  {
    name: 'the Python runner (runners/python), kre-py v3 handler',
    api: 'kre-py-v3',
    krtDir: pythonFixtures,
    handler: 'v3.py',
    start: async (env) => ready(await runPythonRunner(env), env),
  },
  {
    name: 'the Python runner (runners/python), kre-py v1 handler',
    api: 'kre-py-v1',
    krtDir: pythonFixtures,
    handler: 'v1.py',
    start: async (env) => ready(await runPythonRunner(env), env),
  },
];

for (const runner of runners) describeRunnerConformance(runner);
