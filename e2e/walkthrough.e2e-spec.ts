import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '@libs/messaging';
import { Names } from '@libs/naming';
import { OWNER_ENV, killWithGroup, processesWithEnv } from '@libs/orchestrator';
import { testEnv, toolBinary, waitForMail, type AppProcess } from '@libs/testing';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine } from './engine-harness.js';
import WebSocket from 'ws';

const run = promisify(execFile);

/** The fenced block between the `<!-- <marker>:start -->` and `:end` markers of README.md. */
async function readmeBlock(marker: string): Promise<string> {
  const readme = await readFile('README.md', 'utf8');
  const block = new RegExp(
    `<!-- ${marker}:start -->\\s*\`\`\`sh\\n([\\s\\S]*?)\`\`\`\\s*<!-- ${marker}:end -->`,
  ).exec(readme);
  if (!block?.[1]) throw new Error(`README.md has no ${marker} block`);
  return block[1];
}

/**
 * The README walkthrough, run as written against a stack of our own (admin-api, deployer,
 * gateway as processes on random ports): with the kre CLI, sign in through the mail, an API
 * token, a runtime, the greeter KRT uploaded, configured, started, published, called over HTTP
 * and gRPC; at the end the same over the API with curl and GraphQL (the README's second block). On the
 * running version: a config change rolls the workloads, and watchNodeStatus shows a member
 * the real workloads (a killed one restarting). Then stop and delete over GraphQL with the
 * token: processes, streams and routes are gone.
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
  /** The invocation key the walkthrough created: every call through the gateway sends it. */
  let invocationKey = '';

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
  const clients: Client[] = [];

  /** The whole sign-in of a person, through HTTP and the mail: returns the session cookie. */
  const signIn = async (email: string): Promise<string> => {
    const post = (path: string, body: unknown) =>
      fetch(`${api}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post('/api/v1/auth/signin', { email })).status).toBe(202);
    const mail = await waitForMail(env.MAILPIT_URL, email);
    const link = /\/signin#([A-Za-z0-9_-]{43})/.exec(mail.Text);
    const verified = await post('/api/v1/auth/signin/verify', { token: link?.[1] });
    expect(verified.status).toBe(200);
    return verified.headers.getSetCookie()[0].split(';')[0];
  };

  interface NodeEvent {
    nodeId: string;
    status: string;
    replicas: { replica: number; state: string; restarts: number; message: string | null }[];
  }
  /** A graphql-ws client with a session cookie (closed after the tests). */
  const wsClient = (cookie: string): Client => {
    const client = createClient({
      url: `${api.replace('http', 'ws')}/graphql`,
      lazy: false,
      retryAttempts: 0,
      onNonLazyError: () => undefined,
      webSocketImpl: class extends WebSocket {
        constructor(address: string, protocols?: string | string[]) {
          super(address, protocols, { headers: { cookie } });
        }
      },
    });
    clients.push(client);
    return client;
  };

  /** A member's session cookie (signed in by the watchNodeStatus case). */
  let memberCookie = '';

  interface VersionEvent {
    versionName: string;
    status: string | null;
    step: string | null;
  }
  /** watchVersion over graphql-ws with a session cookie: every event. */
  const watchVersion = (cookie: string, runtimeId: string) => {
    const client = wsClient(cookie);
    const events: VersionEvent[] = [];
    const errors: unknown[] = [];
    client.subscribe<{ watchVersion: VersionEvent }>(
      {
        query: 'subscription($r: ID!) { watchVersion(runtimeId: $r) { versionName status step } }',
        variables: { r: runtimeId },
      },
      {
        next: (result) => {
          if (result.data) events.push(result.data.watchVersion);
          errors.push(...(result.errors ?? []));
        },
        error: (error) => errors.push(error),
        complete: () => undefined,
      },
    );
    return { events, errors };
  };

  /** watchNodeStatus over graphql-ws with a session cookie: every event, or the error. */
  const watchNodes = (cookie: string, runtimeId: string, versionName: string) => {
    const client = wsClient(cookie);
    const events: NodeEvent[] = [];
    const errors: { message: string; extensions?: { code?: string } }[] = [];
    client.subscribe<{ watchNodeStatus: NodeEvent }>(
      {
        query: `subscription($r: ID!, $v: String!) { watchNodeStatus(runtimeId: $r, versionName: $v) {
          nodeId status replicas { replica state restarts message } } }`,
        variables: { r: runtimeId, v: versionName },
      },
      {
        next: (result) => {
          if (result.data) events.push(result.data.watchNodeStatus);
          errors.push(...((result.errors ?? []) as typeof errors));
        },
        error: (error) => errors.push({ message: String(error) }),
        complete: () => undefined,
      },
    );
    return { events, errors, latest: () => new Map(events.map((e) => [e.nodeId, e])) };
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'kre-walkthrough-'));
    const engine = await startEngine({
      env,
      work,
      adminEmail: `admin@${env.KRE_PREFIX}.test`,
      apps: ['admin-api', 'deployer', 'gateway'],
    });
    apps.push(...engine.apps);
    ({ api, gatewayHttp, gatewayGrpc } = engine);
  });

  afterAll(async () => {
    for (const client of clients) await client.dispose();
    await Promise.all(apps.map((a) => a.stop()));
    for (const pid of await owned()) await killWithGroup(pid);
    await rm(work, { recursive: true, force: true });
  });

  /** Runs a README block with bash, strict, on this stack; the CLI keeps its config in `work`. */
  const runBlock = async (marker: string, runtime: string, tail: string) => {
    const script = `set -euo pipefail\n${await readmeBlock(marker)}\n${tail}`;
    const result = await run('bash', ['-c', script], {
      cwd: process.cwd(),
      timeout: 150_000,
      maxBuffer: 10 * 1024 * 1024,
      env: {
        ...process.env,
        PATH: `${dirname(toolBinary('grpcurl'))}:${join(process.cwd(), 'node_modules/.bin')}:${process.env.PATH ?? ''}`,
        KRE_CONFIG_DIR: join(work, 'kre-config'),
        KRE_TOKEN: '',
        KRE_CONTEXT: '',
        KRE_INVOCATION_KEY: '',
        KRE_API: api,
        KRE_GATEWAY: gatewayHttp,
        KRE_GRPC: gatewayGrpc,
        KRE_MAILPIT: env.MAILPIT_URL,
        ADMIN_EMAIL: `admin@${env.KRE_PREFIX}.test`,
        KRE_RUNTIME: runtime,
      },
    }).catch((error: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(
        `the ${marker} block failed: ${error.message}\n${error.stdout ?? ''}\n${error.stderr ?? ''}`,
      );
    });
    return result.stdout;
  };

  it('runs as written with the kre CLI and answers over HTTP and gRPC', async () => {
    output = await runBlock(
      'walkthrough',
      'demo',
      'echo "KRE_TOKEN=$KRE_TOKEN"\necho "KRE_KEY=$KRE_KEY"\n',
    );
    token = /KRE_TOKEN=(\S+)/.exec(output)?.[1] ?? '';
    expect(token).toMatch(/^kre_/);
    invocationKey = /KRE_KEY=(\S+)/.exec(output)?.[1] ?? '';
    expect(invocationKey).toMatch(/^kre_ik_/);
    expect(output).toContain(`admin@${env.KRE_PREFIX}.test (platform admin) on ${api}`);
    expect(output).toContain('without a key: exit 4');
    expect(output).toContain('{"greeting":"Howdy, Ada Lovelace!"}');
    expect(output).toContain('{"greeting":"Howdy, Lin!"}');
    expect(output).toContain('{"greeting":"Howdy, Grace!"}');
    expect(output).toMatch(/"status": "PUBLISHED"/);
    expect(output).toContain(`"http": "${gatewayHttp}/demo/versions/greeter-v1"`);
  });

  it('invocation keys at the gateway: missing, wrong, another runtime’s and revoked keys are refused; requireInvocationKey false opens the runtime; last use is recorded', async () => {
    expect(invocationKey).not.toBe('');
    const status = async (headers: Record<string, string> = {}) =>
      (
        await fetch(`${gatewayHttp}/demo/Greet`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: '{}',
        })
      ).status;
    const createKey = async (runtimeId: string, name: string) =>
      (
        await gql<{ createInvocationKey: { key: string; invocationKey: { id: string } } }>(
          `mutation { createInvocationKey(runtimeId: "${runtimeId}", input: {name: "${name}"}) { key invocationKey { id } } }`,
        )
      ).createInvocationKey;
    expect(await status()).toBe(401);
    expect(await status({ 'x-api-key': `kre_ik_${'x'.repeat(40)}` })).toBe(401);
    expect(await status({ authorization: `Bearer ${invocationKey}` })).toBe(200);

    await gql('mutation { createRuntime(input: {id: "other", name: "Other"}) { id } }');
    const others = await createKey('other', 'theirs');
    expect(await status({ 'x-api-key': others.key })).toBe(401);

    const doomed = await createKey('demo', 'doomed');
    await expect.poll(() => status({ 'x-api-key': doomed.key }), { timeout: 10_000 }).toBe(200);
    await gql(
      `mutation { revokeInvocationKey(runtimeId: "demo", id: "${doomed.invocationKey.id}") { revokedAt } }`,
    );
    await expect.poll(() => status({ 'x-api-key': doomed.key }), { timeout: 10_000 }).toBe(401);
    expect(await status({ 'x-api-key': invocationKey })).toBe(200);

    const setRequired = (value: boolean) =>
      gql(
        `mutation { updateRuntime(input: {id: "demo", requireInvocationKey: ${value}}) { requireInvocationKey } }`,
      );
    await setRequired(false);
    await expect.poll(() => status(), { timeout: 10_000 }).toBe(200);
    await setRequired(true);
    await expect.poll(() => status(), { timeout: 10_000 }).toBe(401);

    // The gateway reported the walkthrough key's use; admin-api recorded it.
    await expect
      .poll(
        async () =>
          (
            await gql<{ invocationKeys: { name: string; lastUsedAt: string | null }[] }>(
              '{ invocationKeys(runtimeId: "demo") { name lastUsedAt } }',
            )
          ).invocationKeys.find((k) => k.name === 'walkthrough')?.lastUsedAt ?? null,
        { timeout: 10_000 },
      )
      .not.toBeNull();
  });

  it('rolls the STARTED version onto a new config (updateVersionUserConfiguration): the next prediction uses it', async () => {
    expect(token).not.toBe('');
    const greet = async (): Promise<string | null> => {
      try {
        const response = await fetch(`${gatewayHttp}/demo/Greet`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': invocationKey },
          body: JSON.stringify({ name: 'Ada' }),
        });
        return response.ok ? ((await response.json()) as { greeting: string }).greeting : null;
      } catch {
        return null; // the workloads are being replaced
      }
    };
    expect(await greet()).toBe('Howdy, Ada!');
    const before = (await owned()).sort();
    const updated = await gql<{
      updateVersionUserConfiguration: { status: string; config: { completed: boolean } };
    }>(
      'mutation { updateVersionUserConfiguration(input: {runtimeId: "demo", versionName: "greeter-v1", configurationVariables: [{key: "GREETING", value: "Hej"}]}) { status config { completed } } }',
    );
    expect(updated.updateVersionUserConfiguration).toEqual({
      status: 'PUBLISHED',
      config: { completed: true },
    });
    await expect.poll(greet, { timeout: 60_000, interval: 250 }).toBe('Hej, Ada!');
    // Rolled, not added to: new processes, as many as before, none of the old ones answering.
    const after = (await owned()).sort();
    expect(after).toHaveLength(1); // the entrypoint and the three nodes share one process
    expect(after.filter((pid) => before.includes(pid))).toEqual([]);
    for (let i = 0; i < 3; i++) expect(await greet()).toBe('Hej, Ada!');
    const { version } = await gql<{ version: { status: string } }>(
      '{ version(runtimeId: "demo", name: "greeter-v1") { status } }',
    );
    expect(version.status).toBe('PUBLISHED');
  });

  it('rolls again when the config changes during a roll: the last value wins', async () => {
    const setGreeting = (value: string) =>
      gql(
        `mutation { updateVersionUserConfiguration(input: {runtimeId: "demo", versionName: "greeter-v1", configurationVariables: [{key: "GREETING", value: "${value}"}]}) { status } }`,
      );
    const before = (await owned()).sort();
    await setGreeting('Salut');
    // The roll has begun (a new process exists): its job is running, not waiting.
    await expect
      .poll(async () => (await owned()).some((pid) => !before.includes(pid)), {
        timeout: 30_000,
        interval: 50,
      })
      .toBe(true);
    await setGreeting('Ciao');
    await expect
      .poll(
        async () => {
          const response = await fetch(`${gatewayHttp}/demo/Greet`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-api-key': invocationKey },
            body: JSON.stringify({ name: 'Ada' }),
          }).catch(() => null);
          return response?.ok ? ((await response.json()) as { greeting: string }).greeting : null;
        },
        { timeout: 90_000, interval: 250 },
      )
      .toBe('Ciao, Ada!');
    expect(await owned()).toHaveLength(1);
  });

  it('watchNodeStatus: a member sees every workload running, then a killed one restart; a non-member is refused', async () => {
    expect(token).not.toBe('');
    const [memberEmail, outsiderEmail] = ['member', 'outsider'].map(
      (name) => `${name}@${env.KRE_PREFIX}.test`,
    );
    for (const email of [memberEmail, outsiderEmail]) {
      await gql(`mutation { createUser(input: {email: "${email}", platformRole: USER}) { id } }`);
    }
    await gql(
      `mutation { addRuntimeMember(input: {runtimeId: "demo", email: "${memberEmail}", role: VIEWER}) { role } }`,
    );

    const outsider = watchNodes(await signIn(outsiderEmail), 'demo', 'greeter-v1');
    memberCookie = await signIn(memberEmail);
    const member = watchNodes(memberCookie, 'demo', 'greeter-v1');
    const nodes = ['entrypoint', 'greet.clean-name', 'greet.make-greeting', 'greet.format-reply'];
    await expect
      .poll(
        () => [...member.latest().values()].map((e) => [e.nodeId, e.status, e.replicas.length]),
        {
          timeout: 15_000,
        },
      )
      .toEqual(nodes.map((id) => [id, 'STARTED', 1]));
    expect(member.errors).toEqual([]);
    await expect
      .poll(() => outsider.errors[0]?.extensions?.code, { timeout: 10_000 })
      .toBe('NOT_FOUND');
    expect(outsider.errors[0].message).toBe('runtime "demo" not found');
    expect(outsider.events).toEqual([]);

    // Kill the version's shared process (the entrypoint and the three runners): the driver
    // restarts it, and the member sees each of its workloads restart.
    const [victim, ...others] = await owned();
    expect(others).toEqual([]);
    const seen = member.events.length;
    process.kill(victim, 'SIGKILL');
    for (const node of nodes)
      await expect
        .poll(() => member.latest().get(node), { timeout: 20_000 })
        .toMatchObject({
          status: 'STARTED',
          replicas: [
            { state: 'RUNNING', restarts: 1, message: expect.stringMatching(/^exited/) as unknown },
          ],
        });
    expect(new Set(member.events.slice(seen).map((e) => e.nodeId))).toEqual(new Set(nodes));
    expect(await owned()).toHaveLength(1);
  });

  it('stops and deletes the version with the token: processes, streams and routes are gone', async () => {
    expect(token).not.toBe('');
    expect((await owned()).length).toBe(1);
    // A VIEWER member follows the stop through watchVersion: every job step, then the status.
    expect(memberCookie).not.toBe('');
    const watched = watchVersion(memberCookie, 'demo');
    await new Promise((resolve) => setTimeout(resolve, 500)); // the subscription is registered
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
    await expect.poll(() => watched.events.at(-1)?.status, { timeout: 10_000 }).toBe('STOPPED');
    expect(watched.errors).toEqual([]);
    const steps = watched.events.map((e) => e.step).filter((step) => step !== null);
    expect(steps).toEqual(
      expect.arrayContaining(['remove-route', 'remove-routes', 'stop-workloads', 'remove-streams']),
    );
    expect(steps.indexOf('remove-routes')).toBeLessThan(steps.indexOf('stop-workloads'));
    expect(steps.indexOf('stop-workloads')).toBeLessThan(steps.indexOf('remove-streams'));
    expect(watched.events.every((e) => e.versionName === 'greeter-v1')).toBe(true);
    const nc = await connectNats({
      url: env.NATS_URL,
      credentials: env.NATS_CREDS,
      name: 'walkthrough-check',
    });
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
      headers: { 'content-type': 'application/json', 'x-api-key': invocationKey },
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

  it("runs the README's API block (curl, GraphQL, grpcurl) as written, on a second runtime", async () => {
    const out = await runBlock('walkthrough-api', 'demo-api', '');
    expect(out).toContain('without a key: 401');
    expect(out).toContain('{"greeting":"Howdy, Ada Lovelace!"}');
    expect(out).toMatch(/"greeting": "Howdy, Grace!"/);
    expect(out).toMatch(/"status":"PUBLISHED"/);
    expect(out).toContain(`"http":"${gatewayHttp}/demo-api/versions/greeter-v1"`);
    await gql(
      'mutation { unpublishVersion(input: {runtimeId: "demo-api", versionName: "greeter-v1", comment: ""}) { status } }',
    );
    await gql(
      'mutation { stopVersion(input: {runtimeId: "demo-api", versionName: "greeter-v1", comment: ""}) { status } }',
    );
  });
});
