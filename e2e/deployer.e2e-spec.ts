import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VersionStatus } from '@libs/core';
import { GatewayRoutes, connectNats, decodeRecord, versionRouteKey } from '@libs/messaging';
import { openControlPlane, seedGreeter, type ControlPlane } from './deployer-harness.js';
import { Names } from '@libs/naming';
import { OWNER_ENV, killWithGroup, processesWithEnv } from '@libs/orchestrator';
import {
  TestNpmRegistry,
  addRegistryDependency,
  freePort,
  runApp,
  testEnv,
  waitForHttp,
  type AppProcess,
} from '@libs/testing';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The deployer as a process, driving the local orchestrator: runtime create, version start
 * (streams, stores, KRT copy, workloads, route), a deployer SIGKILL in the middle of a
 * running version, publish, stop and delete. Versions are seeded through the repositories
 * (the upload endpoint has its own tests); jobs go through BullMQ as admin-api queues them.
 */
describe('deployer with the local driver', () => {
  const env = testEnv({ CONFIG_ENCRYPTION_KEY: randomBytes(32).toString('base64') });
  const names = new Names(env.KRE_PREFIX);
  const rt = 'greeter-rt';
  let work: string;
  let nc: NatsConnection;
  let plane: ControlPlane;
  let deployer: AppProcess | undefined;
  let versionName: string;
  let registry: TestNpmRegistry;

  const startDeployer = async () => {
    const port = await freePort();
    deployer = runApp('deployer', {
      ...env,
      DEPLOYER_HEALTH_PORT: String(port),
      KRE_STATE_DIR: join(work, 'state'),
      WORKLOAD_READY_TIMEOUT_SECONDS: '60',
      NPM_REGISTRY: registry.url,
    });
    await waitForHttp(`http://127.0.0.1:${port}/health`, deployer);
  };
  /** Waits until the version leaves `transitional`, then returns its status and message. */
  const settled = async (name: string, transitional: VersionStatus) => {
    await expect
      .poll(async () => (await plane.versions.find(rt, name))?.status, {
        timeout: 90_000,
        interval: 250,
      })
      .not.toBe(transitional);
    return statusOf(name);
  };
  const owned = () => processesWithEnv(OWNER_ENV, `${env.KRE_PREFIX}@${join(work, 'state')}`);
  // Status with its message, so a failure shows why the version ended where it did.
  const statusOf = async (name: string) => {
    const version = await plane.versions.find(rt, name);
    return version && { status: version.status, message: version.statusMessage };
  };

  /** Starts a seeded version, waits for STARTED, and asks its entrypoint (by its route) to greet Ada. */
  const startAndGreet = async (name: string): Promise<unknown> => {
    await plane.versions.transition(rt, name, [VersionStatus.CREATED], VersionStatus.STARTING);
    await plane.versionJobs.add('start', { runtimeId: rt, versionName: name, by: 'e2e' });
    expect(await settled(name, VersionStatus.STARTING)).toEqual({
      status: VersionStatus.STARTED,
      message: undefined,
    });
    const route = await (
      await new Kvm(nc).open(names.gatewayBucket())
    ).get(versionRouteKey(rt, name));
    const { http } = route!.json<{ http: string }>();
    const response = await fetch(`http://${http}/Greet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Ada' }),
    });
    return response.json();
  };
  const seedVersion = (name: string, customize?: (dir: string) => Promise<void>) =>
    seedGreeter({ work, prefix: env.KRE_PREFIX, runtimeId: rt, plane }, name, customize);

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'kre-deployer-e2e-'));
    registry = await TestNpmRegistry.start();
    plane = await openControlPlane(env);
    nc = await connectNats({
      url: env.NATS_URL,
      credentials: env.NATS_CREDS,
      name: 'deployer-e2e',
    });
    await plane.runtimes.create({ _id: rt, name: 'Greeter', description: '', createdBy: 'e2e' });

    versionName = await seedVersion('greeter-v1');
    await startDeployer();
  });

  afterAll(async () => {
    await deployer?.stop();
    for (const pid of await owned()) await killWithGroup(pid);
    await nc?.drain();
    await plane?.close();
    await registry?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('creates the runtime: observability stream, status CREATED', async () => {
    await plane.runtimeJobs.add('create', { runtimeId: rt, by: 'e2e' });
    await expect
      .poll(async () => (await plane.runtimes.get(rt)).status, { timeout: 30_000 })
      .toBe('CREATED');
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info(names.obsStream(rt))).config).toMatchObject({
      subjects: [`${names.obsPrefix(rt)}.>`],
      // The runtime's quota (here the installation's default: RUNTIME_QUOTA_OBS_*).
      max_bytes: 1024 ** 3,
      max_age: 7 * 86_400 * 1e9,
    });
  });

  it("applies a platform admin's new observability quota to the runtime's stream in place", async () => {
    const jsm = await jetstreamManager(nc);
    await jetstream(nc).publish(`${names.obsPrefix(rt)}.e2e`, 'kept through the update');
    const before = (await jsm.streams.info(names.obsStream(rt))).state.messages;
    // What setRuntimeQuota stores and queues (runtime-quota.int-spec.ts covers the API side).
    await plane.runtimes.setQuota(rt, {
      replicas: 1_000,
      memoryBytes: 1024 ** 4,
      cpuMillis: 1_000_000,
      gpus: 0,
      storageBytes: 1024 ** 4,
      obsBytes: 64 * 1024 ** 2,
      obsMaxAgeMs: 36 * 3_600_000,
    });
    await plane.runtimeJobs.add('update-quota', { runtimeId: rt, by: 'e2e' });
    await expect
      .poll(async () => (await jsm.streams.info(names.obsStream(rt))).config.max_bytes, {
        timeout: 30_000,
      })
      .toBe(64 * 1024 ** 2);
    const info = await jsm.streams.info(names.obsStream(rt));
    expect(info.config.max_age).toBe(36 * 3_600 * 1e9);
    expect(info.state.messages).toBe(before); // the same stream, updated
    expect((await plane.runtimes.get(rt)).status).toBe('CREATED');
  });

  it('starts the version: streams, KV buckets, one shared process for its workloads, a gateway route, STARTED', async () => {
    await plane.versions.transition(
      rt,
      versionName,
      [VersionStatus.CREATED],
      VersionStatus.STARTING,
    );
    await plane.versionJobs.add('start', { runtimeId: rt, versionName, by: 'e2e' });
    expect(await settled(versionName, VersionStatus.STARTING)).toEqual({
      status: VersionStatus.STARTED,
      message: undefined,
    });

    const jsm = await jetstreamManager(nc);
    const stream = names.workflowStream(rt, versionName, 'greet');
    const consumers: string[] = [];
    for await (const c of jsm.consumers.list(stream)) consumers.push(c.name);
    expect(consumers.sort()).toEqual([
      'clean-name_entrypoint',
      'format-reply_make-greeting',
      'make-greeting_clean-name',
    ]);
    // Kvm.open binds without asking the server: ask for the bucket's stream itself.
    const bucket = names.projectBucket(rt, versionName);
    expect((await jsm.streams.info(`KV_${bucket}`)).config.name).toBe(`KV_${bucket}`);

    // The entrypoint and the three nodes, one replica each, in one shared process: each member
    // with its own part of the env (WORKLOAD_SHARED_PROCESS, the default).
    const [shared, ...others] = await owned();
    expect(others).toEqual([]);
    const environ = readFileSync(`/proc/${shared}/environ`, 'utf8').split('\0');
    const members = JSON.parse(
      environ
        .find((e) => e.startsWith('KRT_SHARED_WORKLOADS='))!
        .slice('KRT_SHARED_WORKLOADS='.length),
    ) as { id: string; program: string; env: Record<string, string> }[];
    expect(members.map((m) => [m.id, m.program, m.env.KRT_NODE_ID])).toEqual([
      ['entrypoint', 'entrypoint', undefined],
      ['greet.clean-name', 'runner', 'clean-name'],
      ['greet.make-greeting', 'runner', 'make-greeting'],
      ['greet.format-reply', 'runner', 'format-reply'],
    ]);
    const route = await (
      await new Kvm(nc).open(names.gatewayBucket())
    ).get(versionRouteKey(rt, versionName));
    const { http, grpc } = route?.json<{ http: string; grpc: string }>() ?? { http: '', grpc: '' };
    // The entrypoint's own address: its network namespace's (root), else the loopback.
    const host = process.getuid?.() === 0 ? /^10\.213\.\d+\.\d+:\d+$/ : /^127\.0\.0\.1:\d+$/;
    expect(http).toMatch(host);
    expect(grpc).toMatch(host);
    expect(http.split(':')[0]).toBe(grpc.split(':')[0]);

    // The start's steps are in the version's logs (#15): records of source DEPLOYER in the
    // runtime's observability stream.
    const steps: string[] = [];
    const reader = await jetstream(nc).consumers.get(names.obsStream(rt));
    for await (const m of await reader.consume()) {
      const line = m.subject.endsWith('.logs') ? decodeRecord('logs', m.data) : undefined;
      const origin = line?.origin as { version?: string } | undefined;
      if (line?.source === 'LOG_SOURCE_DEPLOYER' && origin?.version === versionName)
        steps.push(line.message as string);
      if (m.info.pending === 0) break;
    }
    expect(steps).toEqual(
      expect.arrayContaining([
        'start: begun (attempt 1)',
        'start: apply',
        'start: wait-ready',
        'start: mark-started', // 'start: done' may follow the STARTED status
      ]),
    );
  });

  it('keeps the workloads through a deployer SIGKILL, and the next deployer adopts them without duplicates', async () => {
    const before = (await owned()).sort();
    deployer!.child.kill('SIGKILL');
    await deployer!.exited;
    expect((await owned()).sort()).toEqual(before);
    await startDeployer();
    await new Promise((r) => setTimeout(r, 1_500)); // a few supervision ticks
    expect((await owned()).sort()).toEqual(before);
  });

  it('publishes: the runtime route points at the version', async () => {
    await plane.versions.publish(rt, versionName, 'e2e');
    await plane.versionJobs.add('publish', { runtimeId: rt, versionName, by: 'e2e' });
    const routes = await GatewayRoutes.open(nc, names);
    await expect
      .poll(() => routes.published(rt), { timeout: 30_000 })
      .toMatchObject({ version: versionName });
  });

  it('stops: routes, processes and streams are gone, status STOPPED', async () => {
    await plane.versions.transition(
      rt,
      versionName,
      [VersionStatus.PUBLISHED, VersionStatus.STARTED],
      VersionStatus.STOPPING,
    );
    await plane.versionJobs.add('stop', { runtimeId: rt, versionName, by: 'e2e' });
    expect(await settled(versionName, VersionStatus.STOPPING)).toEqual({
      status: VersionStatus.STOPPED,
      message: undefined,
    });
    expect(await owned()).toEqual([]);
    const jsm = await jetstreamManager(nc);
    await expect(jsm.streams.info(names.workflowStream(rt, versionName, 'greet'))).rejects.toThrow(
      /stream not found/i,
    );
    expect(await (await GatewayRoutes.open(nc, names)).published(rt)).toBeNull();
  });

  it('deletes the version: record and archive chunks removed', async () => {
    await plane.versions.transition(
      rt,
      versionName,
      [VersionStatus.STOPPED],
      VersionStatus.DELETING,
    );
    await plane.versionJobs.add('delete', { runtimeId: rt, versionName, by: 'e2e' });
    await expect.poll(() => plane.versions.find(rt, versionName), { timeout: 30_000 }).toBeNull();
    const state = await readFile(
      join(work, 'state', 'versions', rt, versionName, 'registry.json'),
      'utf8',
    ).catch(() => null);
    expect(state).toBeNull();
  });

  it('converges when the deployer is SIGKILLed during a start: STARTED, no duplicate workloads', async () => {
    const name = await seedVersion('greeter-v2');
    await plane.versions.transition(rt, name, [VersionStatus.CREATED], VersionStatus.STARTING);
    await plane.versionJobs.add('start', { runtimeId: rt, versionName: name, by: 'e2e' });
    // Kill it in the middle: once the first workload process exists, before STARTED.
    await expect
      .poll(async () => (await owned()).length, { timeout: 60_000, interval: 20 })
      .toBeGreaterThan(0);
    deployer!.child.kill('SIGKILL');
    await deployer!.exited;
    expect((await plane.versions.get(rt, name)).status).toBe(VersionStatus.STARTING);
    // The next deployer finds the stalled job (BullMQ's stall check) and finishes it.
    await startDeployer();
    expect(await settled(name, VersionStatus.STARTING)).toEqual({
      status: VersionStatus.STARTED,
      message: undefined,
    });
    expect(await owned()).toHaveLength(1);

    await plane.versions.transition(rt, name, [VersionStatus.STARTED], VersionStatus.STOPPING);
    await plane.versionJobs.add('stop', { runtimeId: rt, versionName: name, by: 'e2e' });
    expect(await settled(name, VersionStatus.STOPPING)).toEqual({
      status: VersionStatus.STOPPED,
      message: undefined,
    });
    expect(await owned()).toEqual([]);
  });

  it('installs the dependencies a KRT declares before starting it: its handler uses them', async () => {
    const name = await seedVersion('greeter-deps', async (dir) => {
      const node = join(dir, 'src/make-greeting');
      await addRegistryDependency(node, registry, {
        name: 'kre-test-word',
        files: { 'index.js': "export const word = 'Ahoy';\n" },
      });
      await writeFile(
        join(node, 'handler.mjs'),
        "import { word } from 'kre-test-word';\n" +
          'export async function handler(ctx, data) { return { text: `${word}, ${data.name}!` }; }\n',
      );
    });
    expect(await startAndGreet(name)).toEqual({ greeting: 'Ahoy, Ada!' });

    await plane.versions.transition(rt, name, [VersionStatus.STARTED], VersionStatus.STOPPING);
    await plane.versionJobs.add('stop', { runtimeId: rt, versionName: name, by: 'e2e' });
    expect((await settled(name, VersionStatus.STOPPING))?.status).toBe(VersionStatus.STOPPED);
  });

  it('runs a Python node in a virtualenv with its requirements.txt, built before the start', async () => {
    const name = await seedVersion('greeter-py', async (dir) => {
      const manifest = join(dir, 'kre.yaml');
      await writeFile(
        manifest,
        (await readFile(manifest, 'utf8')).replace(
          /- name: Make Greeting\n {4}image: kre\/runner-node:latest\n {4}src: src\/make-greeting\/handler.mjs/,
          '- name: Make Greeting\n    image: konstellation/kre-py:v2.1.5\n    src: src/make-greeting/main.py',
        ),
      );
      // A KRE-era pin (the runner works with protobuf 3.20 to 7.x) and a small pure wheel.
      await writeFile(
        join(dir, 'src/make-greeting/requirements.txt'),
        'protobuf==3.20.1\nsix==1.16.0\n',
      );
      await writeFile(
        join(dir, 'src/make-greeting/main.py'),
        [
          'import os, six',
          'from google.protobuf import __version__ as protobuf_version',
          'from google.protobuf.struct_pb2 import Struct',
          '',
          'async def handler(ctx, data):',
          '    request = Struct()',
          '    data.Unpack(request)',
          '    reply = Struct()',
          '    reply.update({"text": "%s, %s! (protobuf %s, six %s)" % (os.environ["GREETING"], request["name"], protobuf_version, six.__version__)})',
          '    return reply',
          '',
        ].join('\n'),
      );
    });
    expect(await startAndGreet(name)).toEqual({
      greeting: 'Hello, Ada! (protobuf 3.20.1, six 1.16.0)',
    });

    await plane.versions.transition(rt, name, [VersionStatus.STARTED], VersionStatus.STOPPING);
    await plane.versionJobs.add('stop', { runtimeId: rt, versionName: name, by: 'e2e' });
    expect((await settled(name, VersionStatus.STOPPING))?.status).toBe(VersionStatus.STOPPED);
  });

  it("fails the start of a Python node whose requirement has no wheel, with pip's reason", async () => {
    const name = await seedVersion('greeter-py-bad', async (dir) => {
      const manifest = join(dir, 'kre.yaml');
      await writeFile(
        manifest,
        (await readFile(manifest, 'utf8')).replace(
          /- name: Make Greeting\n {4}image: kre\/runner-node:latest\n {4}src: src\/make-greeting\/handler.mjs/,
          '- name: Make Greeting\n    image: konstellation/kre-py:v2.1.5\n    src: src/make-greeting/main.py',
        ),
      );
      await writeFile(join(dir, 'src/make-greeting/requirements.txt'), 'numpy==1.18.4\n');
      await writeFile(
        join(dir, 'src/make-greeting/main.py'),
        'async def handler(ctx, data):\n    return data\n',
      );
    });
    await plane.versions.transition(rt, name, [VersionStatus.CREATED], VersionStatus.STARTING);
    await plane.versionJobs.add('start', { runtimeId: rt, versionName: name, by: 'e2e' });
    const settledStatus = await settled(name, VersionStatus.STARTING);
    expect(settledStatus?.status).toBe(VersionStatus.ERROR);
    expect(settledStatus?.message).toContain(
      'installing the dependencies of "src/make-greeting/requirements.txt" failed',
    );
    expect(settledStatus?.message).toContain('numpy==1.18.4');
    expect(settledStatus?.message).not.toContain(work);
  });

  it('confines a hostile handler: every attack fails while its own work succeeds', async () => {
    const port = (url: string) => Number(new URL(url).port);
    const targets = {
      redis: port(env.REDIS_URL),
      mongo: port(env.MONGO_URL),
      stateDir: join(work, 'state'),
      repoEnv: join(process.cwd(), '.env.example'),
      runtime: rt,
    };
    const name = await seedVersion('greeter-hostile', async (dir) => {
      await writeFile(
        join(dir, 'src/make-greeting/handler.mjs'),
        `import { connect } from 'node:net';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
const T = ${JSON.stringify(targets)};
const probe = (f) => { try { return { ok: f() ?? true }; } catch (e) { return { error: e.code ?? String(e) }; } };
// A TCP conversation: what the server first says after \`send\`, or why there was none.
const talk = (host, port, send) => new Promise((resolve) => {
  const s = connect(port, host);
  let data = '';
  s.setTimeout(2000, () => { s.destroy(); resolve({ error: 'TIMEOUT' }); });
  s.on('connect', () => send && s.write(send));
  s.on('data', (d) => {
    data += d;
    const lines = data.split('\\r\\n').filter((l) => l && !l.startsWith('INFO'));
    if (lines.length) { s.destroy(); resolve({ said: lines[0] }); }
  });
  s.on('error', (e) => resolve({ error: e.code }));
});
export async function handler(ctx, data) {
  const nats = new URL(process.env.KRT_NATS_SERVER);
  const environs = readdirSync('/proc').filter((n) => /^\\d+$/.test(n))
    .map((pid) => probe(() => readFileSync('/proc/' + pid + '/environ', 'latin1')))
    .filter((r) => r.ok && /MONGO_URL|REDIS_URL|CONFIG_ENCRYPTION_KEY/.test(r.ok)).length;
  const report = {
    legit: (ctx.config.get('GREETING') || 'Hello') + ', ' + data.name + '!',
    anonymousNats: await talk(nats.hostname, Number(nats.port), 'CONNECT {"verbose":false}\\r\\nPING\\r\\n'),
    redisOnLoopback: await talk('127.0.0.1', T.redis, 'PING\\r\\n'),
    redisThroughHost: await talk(nats.hostname, T.redis, 'PING\\r\\n'),
    mongoOnLoopback: await talk('127.0.0.1', T.mongo, ''),
    engineEnvirons: environs,
    processes: readdirSync('/proc').filter((n) => /^\\d+$/.test(n)).length,
    runtimes: probe(() => readdirSync(T.stateDir + '/versions')),
    versions: probe(() => readdirSync(T.stateDir + '/versions/' + T.runtime)),
    registry: probe(() => readFileSync(new URL('../../../registry.json', import.meta.url), 'utf8')),
    repoFile: probe(() => readFileSync(T.repoEnv, 'utf8').length),
    writeOwnCode: probe(() => writeFileSync(new URL(import.meta.url), 'evil')),
  };
  return { text: JSON.stringify(report) };
}
`,
      );
    });
    const answer = (await startAndGreet(name)) as { greeting: string };
    const report = JSON.parse(answer.greeting) as Record<string, unknown>;
    // Its own work succeeds.
    expect(report.legit).toBe('Hello, Ada!');
    // NATS without the version's credentials: refused by the server.
    expect(report.anonymousNats).toEqual({ said: "-ERR 'Authorization Violation'" });
    // No engine secret, engine process, state folder or repository file in sight; its code read-only.
    expect(report.engineEnvirons).toBe(0);
    expect(report.processes).toBeLessThanOrEqual(3);
    // Of the state folder only the way to its own KRT: no registry, no other runtime or version.
    expect(report.runtimes).toEqual({ ok: [rt] });
    expect(report.versions).toEqual({ ok: [name] });
    expect(report.registry).toMatchObject({ error: 'ENOENT' });
    expect(report.repoFile).toMatchObject({ error: 'ENOENT' });
    expect(report.writeOwnCode).toMatchObject({ error: 'EROFS' });
    if (process.getuid?.() === 0) {
      // Its network namespace: nothing but NATS is there (no Redis, no database).
      expect(report.redisOnLoopback).toEqual({ error: 'ECONNREFUSED' });
      expect(report.redisThroughHost).toEqual({ error: 'TIMEOUT' });
      expect(report.mongoOnLoopback).toEqual({ error: 'ECONNREFUSED' });
    } else {
      // One network: Redis still demands its password.
      expect(String((report.redisOnLoopback as { said?: string }).said)).toMatch(/NOAUTH/);
    }

    await plane.versions.transition(rt, name, [VersionStatus.STARTED], VersionStatus.STOPPING);
    await plane.versionJobs.add('stop', { runtimeId: rt, versionName: name, by: 'e2e' });
    expect((await settled(name, VersionStatus.STOPPING))?.status).toBe(VersionStatus.STOPPED);
  });

  it('deletes the runtime: databases, streams, its retention setting and the record', async () => {
    await plane.retention.set(rt, 3, 'e2e', new Date());
    await plane.runtimes.setStatus(rt, 'DELETING');
    await plane.runtimeJobs.add('delete', { runtimeId: rt, by: 'e2e' });
    await expect.poll(() => plane.runtimes.find(rt), { timeout: 30_000 }).toBeNull();
    const jsm = await jetstreamManager(nc);
    await expect(jsm.streams.info(names.obsStream(rt))).rejects.toThrow(/stream not found/i);
    expect(await plane.retention.get(rt)).toBeUndefined();
  });
});
