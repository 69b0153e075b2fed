import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  engineCredentials,
  freePort,
  runApp,
  testEnv,
  waitForHttp,
  type AppProcess,
} from '@libs/testing';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);

/** The local addresses a TCP port is listened on, from the kernel's socket table. */
function listeningAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const found: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state !== '0A' || !local?.endsWith(`:${hexPort}`)) continue; // 0A: LISTEN
      const hex = local.split(':')[0];
      found.push(
        hex.length === 8
          ? (hex.match(/../g) ?? [])
              .reverse()
              .map((b) => parseInt(b, 16))
              .join('.')
          : hex === '0'.repeat(32)
            ? '::'
            : `ipv6:${hex}`,
      );
    }
  }
  return found;
}

interface HealthBody {
  status: 'ok' | 'degraded' | 'error';
  details: Record<string, { status: string; message?: string }>;
}

describe('the apps, as processes against real services', () => {
  const env = testEnv({ CONFIG_ENCRYPTION_KEY: randomBytes(32).toString('base64') });
  const started: AppProcess[] = [];
  const start = (app: string, extra: Record<string, string>) => {
    const process = runApp(app, { ...env, ...extra });
    started.push(process);
    return process;
  };
  afterAll(async () => {
    await Promise.all(started.map((p) => p.stop()));
  });

  it('admin-api reports its dependencies, and the deployer answers over the NATS transport', async () => {
    const [apiPort, deployerPort] = [await freePort(), await freePort()];
    const api = start('admin-api', { ADMIN_API_PORT: String(apiPort) });
    const apiUrl = `http://127.0.0.1:${apiPort}`;

    // No deployer yet: the API still serves, and says the deployer is missing.
    let body = (await (await waitForHttp(`${apiUrl}/health`, api)).json()) as HealthBody;
    expect(body.status).toBe('degraded');
    expect(body.details).toMatchObject({
      mongo: { status: 'up' },
      redis: { status: 'up' },
      nats: { status: 'up' },
    });
    expect(body.details.deployer?.status).toBe('degraded');

    const deployer = start('deployer', { DEPLOYER_HEALTH_PORT: String(deployerPort) });
    await waitForHttp(`http://127.0.0.1:${deployerPort}/health`, deployer);
    await expect
      .poll(
        async () =>
          ((await (await fetch(`${apiUrl}/health`)).json()) as HealthBody).details.deployer?.status,
        {
          timeout: 10_000,
        },
      )
      .toBe('up');
    body = (await (await fetch(`${apiUrl}/health`)).json()) as HealthBody;
    expect(body.status).toBe('ok');
  });

  it.each([
    ['mongo-writer', 'MONGO_WRITER_HEALTH_PORT', []],
    // Every port on free ones: a dev stack (scripts/start) may hold the defaults.
    ['gateway', 'GATEWAY_HEALTH_PORT', ['GATEWAY_HTTP_PORT', 'GATEWAY_GRPC_PORT']],
  ])(
    '%s boots, is healthy, and drains NATS when stopped with SIGTERM',
    async (app, portVar, others) => {
      const port = await freePort();
      const extra: Record<string, string> = {
        [portVar]: String(port),
        // The app's own identity, with the permissions it has in production.
        NATS_CREDS: await engineCredentials(env, app as 'mongo-writer' | 'gateway'),
      };
      for (const name of others) extra[name] = String(await freePort());
      const process = start(app, extra);
      const body = (await (
        await waitForHttp(`http://127.0.0.1:${port}/health`, process)
      ).json()) as HealthBody;
      expect(body.status).toBe('ok');
      // Nest runs the shutdown hooks, then re-raises the signal: SIGTERM, not our SIGKILL fallback.
      expect(await process.stop()).toBe('SIGTERM');
      expect(process.output()).toContain('NATS connection drained');
    },
  );

  it('the runner and the entrypoint take the workload env and serve /livez and /readyz', async () => {
    // A minimal KRT: a handler and the entrypoint proto (the data-plane e2e runs real ones).
    const krt = mkdtempSync(join(tmpdir(), 'kre-krt-'));
    mkdirSync(join(krt, 'src'));
    writeFileSync(join(krt, 'src/handler.js'), 'export const handler = (_ctx, data) => data;\n');
    writeFileSync(
      join(krt, 'public_input.proto'),
      'syntax = "proto3";\nmessage R { string a = 1; }\nservice Entrypoint { rpc Greet(R) returns (R); }\n',
    );
    const workload = {
      KRT_RUNTIME_ID: 'demo',
      KRT_VERSION: 'v1',
      KRT_VERSION_ID: 'demo:v1',
      KRT_NATS_SERVER: env.NATS_URL,
      KRT_NATS_CREDS: env.NATS_CREDS,
      KRT_NATS_INBOX_PREFIX: '_INBOX_demo_v1',
      KRT_BASE_PATH: krt,
      KRT_NATS_OBS_PREFIX: `${env.KRE_PREFIX}.demo.obs`,
      KRT_NATS_DATA_PREFIX: `${env.KRE_PREFIX}.demo.data`,
    };
    const [runnerPort, entrypointPort] = [await freePort(), await freePort()];
    const runner = start('runner', {
      ...workload,
      KRT_HEALTH_PORT: String(runnerPort),
      KRT_WORKFLOW_NAME: 'wf',
      KRT_NODE_NAME: 'Execute DL Model',
      KRT_NODE_ID: 'execute-dl-model',
      KRT_HANDLER_PATH: 'src/handler.js',
      KRT_NATS_STREAM: 'S',
      KRT_NATS_INPUTS: 'a.b=c_d',
      KRT_NATS_OUTPUT: 'a.c',
    });
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    const entrypoint = start('entrypoint', {
      ...workload,
      KRT_HEALTH_PORT: String(entrypointPort),
      KRT_GRPC_PORT: String(grpcPort),
      KRT_HTTP_PORT: String(httpPort),
      KRT_ENTRYPOINT_PROTO: 'public_input.proto',
      KRT_ENTRYPOINT_ROUTES: JSON.stringify({
        Greet: { workflow: 'wf', stream: 'S', subject: 'a.b' },
      }),
    });
    await waitForHttp(`http://127.0.0.1:${entrypointPort}/readyz`, entrypoint);
    // Live at once; ready only once bound to its consumer, which the deployer creates.
    await waitForHttp(`http://127.0.0.1:${runnerPort}/livez`, runner);
    const ready = await fetch(`http://127.0.0.1:${runnerPort}/readyz`);
    expect(ready.status).toBe(503);
    // The answer has statuses only; why goes to the workload's log (issue #12).
    expect(await ready.text()).not.toContain('c_d');
    await expect
      .poll(() => runner.output(), { timeout: 5_000 })
      .toContain('not bound to consumer(s) c_d of S');
    for (const port of [runnerPort, entrypointPort])
      expect(await (await fetch(`http://127.0.0.1:${port}/livez`)).json()).toEqual({
        status: 'ok',
      });
    // On one machine every server of a workload listens on loopback only (issue #13).
    for (const port of [runnerPort, entrypointPort, grpcPort, httpPort])
      expect(listeningAddresses(port)).toEqual(['127.0.0.1']);
    // Workloads run without Nest (issue #16): their host drains NATS at SIGTERM, then ends by
    // that signal, as the engine apps do.
    for (const workload of [runner, entrypoint]) {
      expect(await workload.stop()).toBe('SIGTERM');
      expect(workload.output()).toContain('NATS connection drained');
    }
  });

  it.each(['admin-api', 'deployer', 'mongo-writer', 'gateway', 'entrypoint', 'runner'])(
    '%s refuses a wrong environment with every problem listed, and exit status 78',
    async (app) => {
      const process = start(app, {
        KRE_PREFIX: 'Not Valid',
        NATS_URL: 'http://nope',
        KRT_NATS_INPUTS: 'broken',
      });
      expect(await process.exited).toBe(78);
      const output = process.output();
      expect(output).toContain(`${app}: invalid environment`);
      expect(output).toMatch(/KRE_PREFIX: must be lowercase/);
      if (app !== 'entrypoint' && app !== 'runner')
        expect(output).toMatch(/NATS_URL: must be a URL with scheme nats:\/\//);
      else expect(output).toMatch(/KRT_RUNTIME_ID: is required/);
      expect(output).not.toMatch(/\n\s+at /); // no stack trace
    },
  );

  it('`kre --help` lists the commands', async () => {
    const { stdout } = await run(process.execPath, ['bin/kre.js', '--help']);
    expect(stdout).toContain('Usage: kre');
  });
});
