import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '@libs/messaging';
import { Names } from '@libs/naming';
import { OWNER_ENV, processesWithEnv } from '@libs/orchestrator';
import { freePort, runApp, testEnv, toolBinary, waitForHttp, type AppProcess } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);

/** The fenced block between the walkthrough markers of README.md. */
async function readmeWalkthrough(): Promise<string> {
  const readme = await readFile('README.md', 'utf8');
  const block = /<!-- walkthrough:start -->\s*```sh\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(
    readme,
  );
  if (!block?.[1]) throw new Error('README.md has no walkthrough block');
  return block[1];
}

/**
 * The README walkthrough, run as written against a stack of our own (admin-api, deployer,
 * gateway as processes on random ports): sign in through the mail, an API token, a runtime,
 * the greeter KRT uploaded, configured, started, published, called over HTTP and gRPC. Then
 * stop and delete over GraphQL with the token: processes, streams and routes are gone.
 */
describe('the README walkthrough', () => {
  const env = testEnv();
  const names = new Names(env.KRE_PREFIX);
  const apps: AppProcess[] = [];
  let work: string;
  let api: string;
  let gatewayHttp: string;
  let gatewayGrpc: string;
  let output = '';
  let token = '';

  const gql = async <T>(query: string): Promise<T> => {
    const response = await fetch(`${api}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
    });
    const body = (await response.json()) as { data?: T; errors?: unknown };
    if (!body.data) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  const owned = () => processesWithEnv(OWNER_ENV, `${env.KRE_PREFIX}@${join(work, 'state')}`);

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'kre-walkthrough-'));
    const [apiPort, deployerPort, httpPort, grpcPort, gatewayHealth] = await Promise.all(
      Array.from({ length: 5 }, () => freePort()),
    );
    api = `http://127.0.0.1:${apiPort}`;
    gatewayHttp = `http://127.0.0.1:${httpPort}`;
    gatewayGrpc = `127.0.0.1:${grpcPort}`;
    const common = { ...env, ADMIN_EMAIL: `admin@${env.KRE_PREFIX}.test` };
    const start = (app: string, extra: Record<string, string>) => {
      const process = runApp(app, { ...common, ...extra });
      apps.push(process);
      return process;
    };
    const admin = start('admin-api', {
      ADMIN_API_PORT: String(apiPort),
      FRONTEND_URL: api,
      GATEWAY_PUBLIC_HTTP_URL: gatewayHttp,
      GATEWAY_PUBLIC_GRPC_ADDRESS: gatewayGrpc,
    });
    const deployer = start('deployer', {
      DEPLOYER_HEALTH_PORT: String(deployerPort),
      KRE_STATE_DIR: join(work, 'state'),
    });
    const gateway = start('gateway', {
      GATEWAY_HTTP_PORT: String(httpPort),
      GATEWAY_GRPC_PORT: String(grpcPort),
      GATEWAY_HEALTH_PORT: String(gatewayHealth),
    });
    await waitForHttp(`${api}/health`, admin);
    await waitForHttp(`http://127.0.0.1:${deployerPort}/health`, deployer);
    await waitForHttp(`http://127.0.0.1:${gatewayHealth}/health`, gateway);
  });

  afterAll(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    for (const pid of await owned()) process.kill(-pid, 'SIGKILL');
    await rm(work, { recursive: true, force: true });
  });

  it('runs as written and answers over HTTP and gRPC', async () => {
    const script = `set -euo pipefail\n${await readmeWalkthrough()}\necho "KRE_TOKEN=$KRE_TOKEN"\n`;
    const result = await run('bash', ['-c', script], {
      cwd: process.cwd(),
      timeout: 150_000,
      maxBuffer: 10 * 1024 * 1024,
      env: {
        ...process.env,
        PATH: `${dirname(toolBinary('grpcurl'))}:${join(process.cwd(), 'node_modules/.bin')}:${process.env.PATH ?? ''}`,
        KRE_API: api,
        KRE_GATEWAY: gatewayHttp,
        KRE_GRPC: gatewayGrpc,
        KRE_MAILPIT: env.MAILPIT_URL,
        ADMIN_EMAIL: `admin@${env.KRE_PREFIX}.test`,
        KRE_RUNTIME: 'demo',
      },
    }).catch((error: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(
        `the walkthrough failed: ${error.message}\n${error.stdout ?? ''}\n${error.stderr ?? ''}`,
      );
    });
    output = result.stdout;
    token = /KRE_TOKEN=(\S+)/.exec(output)?.[1] ?? '';
    expect(token).toMatch(/^kre_/);
    expect(output).toContain('{"greeting":"Howdy, Ada Lovelace!"}');
    expect(output).toMatch(/"greeting": "Howdy, Grace!"/);
    expect(output).toMatch(/"status":"PUBLISHED"/);
    expect(output).toContain(`"http":"${gatewayHttp}/demo/versions/greeter-v1"`);
  });

  it('stops and deletes the version with the token: processes, streams and routes are gone', async () => {
    expect(token).not.toBe('');
    expect((await owned()).length).toBe(4);
    await gql(
      'mutation { unpublishVersion(input: {runtimeId: "demo", versionName: "greeter-v1", comment: ""}) { status } }',
    );
    await gql(
      'mutation { stopVersion(input: {runtimeId: "demo", versionName: "greeter-v1", comment: "done"}) { status } }',
    );
    await expect
      .poll(
        async () =>
          (
            await gql<{ version: { status: string } }>(
              '{ version(runtimeId: "demo", name: "greeter-v1") { status } }',
            )
          ).version.status,
        {
          timeout: 60_000,
          interval: 250,
        },
      )
      .toBe('STOPPED');
    expect(await owned()).toEqual([]);
    const nc = await connectNats({ url: env.NATS_URL, name: 'walkthrough-check' });
    try {
      const jsm = await jetstreamManager(nc);
      await expect(
        jsm.streams.info(names.workflowStream('demo', 'greeter-v1', 'greet')),
      ).rejects.toThrow(/not found/i);
    } finally {
      await nc.close();
    }
    const gone = await fetch(`${gatewayHttp}/demo/Greet`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(gone.status).toBe(404);

    await gql(
      'mutation { deleteVersion(input: {runtimeId: "demo", versionName: "greeter-v1", comment: ""}) { status } }',
    );
    await expect
      .poll(
        async () =>
          (await gql<{ versions: unknown[] }>('{ versions(runtimeId: "demo") { name } }')).versions,
        { timeout: 30_000 },
      )
      .toEqual([]);
  });
});
