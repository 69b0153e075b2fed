import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { AppProcess } from '@libs/testing';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
let venv: Promise<string> | undefined;

/**
 * The Python runner's dev virtualenv (`runners/python/scripts/venv.sh`: the runner installed
 * editable; idempotent, seconds when it exists), made once per test file.
 */
export function pythonRunnerVenv(): Promise<string> {
  venv ??= promisify(execFile)(join(repoRoot, 'runners/python/scripts/venv.sh'), [], {
    timeout: 300_000,
  }).then(({ stdout }) => stdout.trim());
  return venv;
}

/**
 * Starts the Python runner as the drivers do (`python -P -m kre_runner` in `KRT_BASE_PATH`), with
 * exactly `env` (plus PATH and HOME), as `runApp` starts the Node apps.
 */
export async function runPythonRunner(env: Record<string, string>): Promise<AppProcess> {
  const python = join(await pythonRunnerVenv(), 'bin/python');
  const child = spawn(python, ['-P', '-m', 'kre_runner'], {
    cwd: env.KRT_BASE_PATH,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<number | NodeJS.Signals>((done) =>
    child.once('exit', (code, signal) => done(code ?? signal ?? -1)),
  );
  return {
    child,
    output: () => log,
    exited,
    stop: async (graceMs = 10_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const how = await exited;
      clearTimeout(timer);
      return how;
    },
  };
}
