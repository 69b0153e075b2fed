import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplicationContext, INestMicroservice } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  DeployerClient,
  DeployerRpcModule,
  NATS_CONNECTION,
  NatsModule,
  NatsRpcClient,
  NatsRpcServer,
  connectNats,
  deployerSubjects,
  planVersionResources,
  type DeployerStatus,
} from '@libs/messaging';
import { Names } from '@libs/naming';
import type { DeploymentPlan, LocalDriver, WorkloadSpec } from '@libs/orchestrator';
import { testEnv } from '@libs/testing';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeWorkload, fakeWorkloadDriver } from './fixtures/fake-workloads.js';
import { deployerStatusController } from './deployer-status.controller.js';
import { nodeStatusController } from './node-status.controller.js';
import { ORCHESTRATOR_DRIVER } from './orchestrator.provider.js';

/** A stand-in workload program: serves /readyz until it is killed. */

const workload = (id: string): WorkloadSpec => fakeWorkload(id);

/**
 * The deployer's request/reply patterns on the real test NATS, wired as the apps wire them
 * (NatsRpcServer and DeployerRpcModule on each side's one NatsModule connection), answered by a
 * real LocalDriver running stand-in processes, asked by the admin API's DeployerClient and by a
 * bare NATS connection (for what the admin API never sends). Each test has its own version.
 */
describe('nodeStatusController', () => {
  const env = testEnv();
  const subjects = deployerSubjects(new Names(env.KRE_PREFIX));
  let root: string;
  let driver: LocalDriver;
  let serverNc: NatsConnection;
  let server: INestMicroservice;
  let status: DeployerStatus;
  let clientApp: INestApplicationContext;
  let client: DeployerClient;
  let bare: NatsConnection;

  const plan = (versionName: string): DeploymentPlan => ({
    prefix: env.KRE_PREFIX,
    runtimeId: 'demo',
    versionName,
    workloads: [workload('entrypoint'), workload('wf.etl')],
    resources: planVersionResources(new Names(env.KRE_PREFIX), 'demo', versionName, []),
    krtBucket: 'unused',
    routes: {},
  });

  /** A bare request: the JSON answer as it travels (a Nest reply packet). */
  const bareRequest = async (subject: string, payload: string | Uint8Array) =>
    (await bare.request(subject, payload, { timeout: 5_000 })).json<unknown>();

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'kre-node-status-'));
    driver = await fakeWorkloadDriver(root, env.KRE_PREFIX);
    for (const version of ['v1', 'crash']) {
      await driver.apply(plan(version));
      await driver.waitReady('demo', version, 10_000);
    }

    status = { orchestrator: 'local', startedAt: new Date().toISOString(), pid: process.pid };
    const serverModule = await Test.createTestingModule({
      controllers: [
        deployerStatusController(subjects.status, () => status),
        nodeStatusController(subjects.nodeStatus),
      ],
      providers: [{ provide: ORCHESTRATOR_DRIVER, useValue: driver }],
    }).compile();
    serverNc = await connectNats({
      url: env.NATS_URL,
      credentials: env.NATS_CREDS,
      name: 'deployer-under-test',
    });
    server = serverModule.createNestMicroservice({ strategy: new NatsRpcServer(serverNc) });
    await server.listen();
    await serverNc.flush(); // the server holds the subscriptions before anyone asks

    const clientModule = await Test.createTestingModule({
      imports: [
        NatsModule.forRoot({ url: env.NATS_URL, credentials: env.NATS_CREDS, name: 'api' }),
        DeployerRpcModule.forRoot({ prefix: env.KRE_PREFIX }),
      ],
    }).compile();
    clientApp = await clientModule.init();
    client = clientApp.get(DeployerClient);
    bare = await connectNats({ url: env.NATS_URL, credentials: env.NATS_CREDS, name: 'bare' });
  });

  afterAll(async () => {
    await bare?.drain();
    await clientApp?.close();
    await server?.close();
    await serverNc?.drain();
    for (const version of ['v1', 'crash']) await driver?.stop('demo', version);
    await driver?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('answers every replica of a running version', async () => {
    expect(await client.nodeStatus('demo', 'v1')).toEqual([
      { workloadId: 'entrypoint', replica: 0, state: 'RUNNING', restarts: 0, message: null },
      { workloadId: 'wf.etl', replica: 0, state: 'RUNNING', restarts: 0, message: null },
    ]);
  });

  it('answers a restart after a process is killed', async () => {
    const victim = (await driver.status('demo', 'crash')).find((r) => r.workloadId === 'wf.etl')!;
    process.kill(victim.pid!, 'SIGKILL');
    await expect
      .poll(
        async () =>
          (await client.nodeStatus('demo', 'crash')).find((r) => r.workloadId === 'wf.etl'),
        { timeout: 10_000, interval: 100 },
      )
      .toMatchObject({
        restarts: victim.restarts + 1,
        // How it ended: this test's driver started it, so it knows.
        message: expect.stringMatching(/^killed by SIGKILL/) as unknown,
      });
  });

  it('answers no replicas for a version it does not run', async () => {
    expect(await client.nodeStatus('demo', 'v2')).toEqual([]);
  });

  it('answers the status pattern, on each side over the app’s one NATS connection', async () => {
    const apiNc = clientApp.get<NatsConnection>(NATS_CONNECTION);
    const [sent, received] = [apiNc.stats().outMsgs, serverNc.stats().inMsgs];
    expect(await client.status()).toEqual(status);
    expect(apiNc.stats().outMsgs).toBeGreaterThan(sent);
    expect(serverNc.stats().inMsgs).toBeGreaterThan(received);
  });

  it('refuses a malformed request with BAD_REQUEST and every problem named', async () => {
    const ask = async (payload: unknown) =>
      ((await bareRequest(subjects.nodeStatus, JSON.stringify(payload))) as { err?: unknown }).err;
    expect(await ask({ runtimeId: 'Demo--x', versionName: 'v1' })).toEqual({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(
        /^invalid node-status request: runtimeId: must be a runtime id: .*; runtimeId: must be a runtime id without "--"$/,
      ) as unknown,
    });
    expect(await ask({ runtimeId: 'demo' })).toEqual({
      code: 'BAD_REQUEST',
      message: 'invalid node-status request: versionName: must be a version name (a string)',
    });
    expect(
      ((await ask({ runtimeId: 'demo', versionName: 'v1', pid: 1 })) as { message: string })
        .message,
    ).toMatch(/Unrecognized key: "pid"/);
    expect(((await ask('demo/v1')) as { message: string }).message).toMatch(
      /^invalid node-status request: \(message\): /,
    );
  });

  it('answers bytes that are not JSON with BAD_REQUEST, and keeps serving', async () => {
    expect(await bareRequest(subjects.nodeStatus, new Uint8Array([0xff, 0x00, 0x7b]))).toEqual({
      id: 'external',
      isDisposed: true,
      err: { code: 'BAD_REQUEST', message: 'invalid node-status request: (message): not JSON' },
    });
    expect(await bareRequest(subjects.status, '')).toMatchObject({
      err: { code: 'BAD_REQUEST', message: 'invalid status request: (message): not JSON' },
    });
    expect(await bareRequest(subjects.status, '{"verbose":true}')).toMatchObject({
      err: {
        code: 'BAD_REQUEST',
        message: expect.stringMatching(/Unrecognized key: "verbose"/) as unknown,
      },
    });
    // A plain JSON request from a client that is not Nest is served like any other.
    expect(
      await bareRequest(
        subjects.nodeStatus,
        JSON.stringify({ runtimeId: 'demo', versionName: 'v2' }),
      ),
    ).toEqual({ id: 'external', isDisposed: true, response: { replicas: [] } });
    expect(await client.nodeStatus('demo', 'v2')).toEqual([]);
  });

  it('refuses to send a reply that breaks the contract: the caller gets INVALID_REPLY', async () => {
    const good = status;
    status = { ...good, pid: -1 };
    try {
      await expect(client.status()).rejects.toMatchObject({
        name: 'DeployerRpcError',
        code: 'INVALID_REPLY',
        message: 'the status handler produced an invalid reply',
      });
    } finally {
      status = good;
    }
  });

  it('checks a request before sending it: the admin API’s client refuses a malformed one itself', async () => {
    const received = serverNc.stats().inMsgs;
    await expect(client.nodeStatus('demo', '../v1')).rejects.toMatchObject({
      name: 'InvalidRpcMessageError',
      message: expect.stringContaining('versionName: must be a version name') as unknown,
    });
    expect(serverNc.stats().inMsgs).toBe(received);
  });

  it('a reply that breaks the contract, or is not JSON, is refused by the client too', async () => {
    const impostor = await connectNats({
      url: env.NATS_URL,
      credentials: env.NATS_CREDS,
      name: 'impostor',
    });
    const impostorSubjects = {
      status: `${subjects.status}-impostor`,
      nodeStatus: `${subjects.nodeStatus}-impostor`,
    };
    const wrongShape = impostor.subscribe(impostorSubjects.nodeStatus, {
      callback: (_error, msg) => {
        const { id } = msg.json<{ id: string }>();
        msg.respond(JSON.stringify({ id, response: { replicas: [{ replica: -1 }] } }));
      },
    });
    const notJson = impostor.subscribe(impostorSubjects.status, {
      callback: (_error, msg) => {
        msg.respond(new Uint8Array([0xff, 0x00]));
      },
    });
    await impostor.flush();
    const sneaky = new DeployerClient(
      new NatsRpcClient(clientApp.get(NATS_CONNECTION)),
      impostorSubjects,
    );
    try {
      await expect(sneaky.nodeStatus('demo', 'v1')).rejects.toMatchObject({
        name: 'InvalidRpcMessageError',
        message: expect.stringMatching(
          /^invalid node-status reply: replicas\.0\.workloadId: /,
        ) as unknown,
      });
      await expect(sneaky.status()).rejects.toMatchObject({
        name: 'DeployerRpcError',
        code: 'INVALID_REPLY',
        message: 'the reply is not JSON',
      });
    } finally {
      wrongShape.unsubscribe();
      notJson.unsubscribe();
      await sneaky.onApplicationShutdown();
      await impostor.drain();
    }
  });

  it('closing the transports leaves each app’s connection open (NatsModule drains it)', async () => {
    const apiNc = clientApp.get<NatsConnection>(NATS_CONNECTION);
    const other = await Test.createTestingModule({
      controllers: [deployerStatusController(`${subjects.status}-2`, () => status)],
    }).compile();
    const second = other.createNestMicroservice({ strategy: new NatsRpcServer(serverNc) });
    await second.listen();
    await second.close();
    expect(serverNc.isClosed()).toBe(false);
    expect(await client.status()).toEqual(status); // the first server still answers
    expect(apiNc.isClosed()).toBe(false);
  });
});
