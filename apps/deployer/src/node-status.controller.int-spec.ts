import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestMicroservice } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import {
  DeployerClient,
  DeployerRpcModule,
  deployerSubjects,
  planVersionResources,
} from '@libs/messaging';
import { Names } from '@libs/naming';
import { LocalDriver, type DeploymentPlan, type WorkloadSpec } from '@libs/orchestrator';
import { testEnv } from '@libs/testing';
import { firstValueFrom, timeout } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeStatusController } from './node-status.controller.js';
import { ORCHESTRATOR_DRIVER } from './orchestrator.provider.js';

/** A stand-in workload program: serves /readyz until it is killed. */
const PROGRAM = `
import { createServer } from 'node:http';
createServer((_req, res) => res.end('ok')).listen(Number(process.env.KRT_HEALTH_PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

const workload = (id: string): WorkloadSpec => ({
  id,
  role: id === 'entrypoint' ? 'entrypoint' : 'node',
  program: id === 'entrypoint' ? 'entrypoint' : 'runner',
  image: 'x',
  replicas: 1,
  gpu: false,
  ports: ['health'],
  env: {},
  configFiles: {},
  labels: {},
  k8sName: `v-${id}`,
  specHash: `${id}-1`,
});

/**
 * The deployer's node-status pattern on the real test NATS, answered by a real LocalDriver
 * running stand-in processes, asked by the admin API's DeployerClient (and by a raw client,
 * for payloads the admin API never sends).
 */
describe('nodeStatusController', () => {
  const env = testEnv();
  const subject = deployerSubjects(new Names(env.KRE_PREFIX)).nodeStatus;
  let root: string;
  let driver: LocalDriver;
  let server: INestMicroservice;
  let client: DeployerClient;
  let closeClient: () => Promise<void>;
  let raw: ClientProxy;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'kre-node-status-'));
    const program = join(root, 'workload.mjs');
    await writeFile(program, PROGRAM);
    driver = new LocalDriver({
      stateDir: join(root, 'state'),
      prefix: env.KRE_PREFIX,
      nodeBinary: process.execPath,
      programs: { entrypoint: program, runner: program },
      fetchKrt: (_plan, dest) => mkdir(dest, { recursive: true }).then(() => undefined),
      stopGraceMs: 2_000,
      tickMs: 100,
      baseEnv: { PATH: process.env.PATH ?? '' },
    });
    await driver.adopt();
    const plan: DeploymentPlan = {
      prefix: env.KRE_PREFIX,
      runtimeId: 'demo',
      versionName: 'v1',
      workloads: [workload('entrypoint'), workload('wf.etl')],
      resources: planVersionResources(new Names(env.KRE_PREFIX), 'demo', 'v1', []),
      krtBucket: 'unused',
      routes: {},
    };
    await driver.apply(plan);
    await driver.waitReady('demo', 'v1', 10_000);

    const serverModule = await Test.createTestingModule({
      controllers: [nodeStatusController(subject)],
      providers: [{ provide: ORCHESTRATOR_DRIVER, useValue: driver }],
    }).compile();
    server = serverModule.createNestMicroservice({
      transport: Transport.NATS,
      options: { servers: env.NATS_URL, name: 'deployer-under-test' },
    });
    await server.listen();

    const clientModule = await Test.createTestingModule({
      imports: [
        DeployerRpcModule.forRoot({ url: env.NATS_URL, prefix: env.KRE_PREFIX, name: 'api' }),
      ],
    }).compile();
    const clientApp = await clientModule.init();
    client = clientApp.get(DeployerClient);
    closeClient = () => clientApp.close();
    raw = ClientProxyFactory.create({
      transport: Transport.NATS,
      options: { servers: env.NATS_URL, name: 'raw' },
    });
  });

  afterAll(async () => {
    await raw?.close();
    await closeClient?.();
    await server?.close();
    await driver?.stop('demo', 'v1');
    await driver?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('answers every replica of a running version, and a restart after a process is killed', async () => {
    expect(await client.nodeStatus('demo', 'v1')).toEqual([
      { workloadId: 'entrypoint', replica: 0, state: 'RUNNING', restarts: 0, message: null },
      { workloadId: 'wf.etl', replica: 0, state: 'RUNNING', restarts: 0, message: null },
    ]);
    const victim = (await driver.status('demo', 'v1')).find((r) => r.workloadId === 'wf.etl')!;
    process.kill(victim.pid!, 'SIGKILL');
    await expect
      .poll(
        async () => (await client.nodeStatus('demo', 'v1')).find((r) => r.workloadId === 'wf.etl'),
        { timeout: 10_000, interval: 100 },
      )
      .toMatchObject({ restarts: 1, message: expect.stringMatching(/^exited/) as unknown });
  });

  it('answers no replicas for a version it does not run', async () => {
    expect(await client.nodeStatus('demo', 'v2')).toEqual([]);
  });

  it('refuses a malformed request with BAD_REQUEST and every problem named', async () => {
    const ask = (payload: unknown) =>
      firstValueFrom(raw.send<unknown>(subject, payload).pipe(timeout(5_000))).then(
        () => null,
        (error: unknown) => error,
      );
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
    // Through the admin API's client: a typed error.
    await expect(client.nodeStatus('demo', '../v1')).rejects.toMatchObject({
      name: 'DeployerRpcError',
      code: 'BAD_REQUEST',
      message: expect.stringContaining('versionName: must be a version name') as unknown,
    });
  });
});
