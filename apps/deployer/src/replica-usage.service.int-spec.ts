import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplicationContext } from '@nestjs/common';
import { MongooseModule, getConnectionToken } from '@nestjs/mongoose';
import { Test } from '@nestjs/testing';
import { VersionStatus } from '@libs/core';
import type { Krt } from '@libs/krt';
import { LeaderLease } from '@libs/jobs';
import {
  EngineLogPublisher,
  NatsModule,
  connectNats,
  decodeRecord,
  planVersionResources,
} from '@libs/messaging';
import { Names } from '@libs/naming';
import type { DeploymentPlan, LocalDriver } from '@libs/orchestrator';
import { CatalogModule, VersionsRepository, mongooseOptions } from '@libs/persistence';
import { testEnv } from '@libs/testing';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeWorkload, fakeWorkloadDriver } from './fixtures/fake-workloads.js';
import { ORCHESTRATOR_DRIVER } from './orchestrator.provider.js';
import {
  REPLICA_RESOURCES_MEASUREMENT,
  REPLICA_USAGE_PERIOD_MS,
  ReplicaUsageService,
} from './replica-usage.service.js';

/**
 * The deployer's resource sampling against a real LocalDriver running stand-in processes, the
 * real catalog on FerretDB and the real NATS: each reading is one measurement per replica on the
 * runtime's observability subject, CPU as a rate from the second reading on.
 */
describe(ReplicaUsageService.name, () => {
  const env = testEnv();
  const names = new Names(env.KRE_PREFIX);
  const rt = 'usage-rt';
  let root: string;
  let driver: LocalDriver;
  let app: INestApplicationContext;
  let sut: ReplicaUsageService;
  let listener: NatsConnection;
  const records: Record<string, unknown>[] = [];

  const plan: DeploymentPlan = {
    prefix: env.KRE_PREFIX,
    runtimeId: rt,
    versionName: 'v1',
    workloads: [fakeWorkload('entrypoint'), fakeWorkload('wf.etl')],
    resources: planVersionResources(names, rt, 'v1', []),
    krtBucket: 'unused',
    routes: {},
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'kre-replica-usage-'));
    driver = await fakeWorkloadDriver(root, env.KRE_PREFIX);
    await driver.apply(plan);
    await driver.waitReady(rt, 'v1', 10_000);
    const moduleRef = await Test.createTestingModule({
      imports: [
        MongooseModule.forRoot(env.MONGO_URL, mongooseOptions(`${env.KRE_PREFIX}_usage`)),
        CatalogModule.forRoot({ configEncryptionKey: randomBytes(32).toString('base64') }),
        NatsModule.forRoot({ url: env.NATS_URL, credentials: env.NATS_CREDS, name: 'deployer' }),
      ],
      providers: [
        { provide: Names, useValue: names },
        { provide: ORCHESTRATOR_DRIVER, useValue: driver },
        // Sampled by the test, one reading at a time.
        { provide: REPLICA_USAGE_PERIOD_MS, useValue: 3_600_000 },
        EngineLogPublisher,
        {
          provide: LeaderLease,
          useFactory: () => LeaderLease.connect(env.REDIS_URL, env.KRE_PREFIX),
        },
        ReplicaUsageService,
      ],
    }).compile();
    app = await moduleRef.init();
    sut = app.get(ReplicaUsageService);
    await app.get(VersionsRepository).create({
      runtimeId: rt,
      name: 'v1',
      description: '',
      status: VersionStatus.STARTED,
      krt: { version: 'v1', workflows: [] } as unknown as Krt,
      config: [],
      krtSize: 0,
      krtChunks: 0,
      krtSha256: '',
      createdBy: 'test',
    });
    listener = await connectNats({ url: env.NATS_URL, credentials: env.NATS_CREDS, name: 'l' });
    listener.subscribe(names.obsSubject(rt, 'measurements'), {
      callback: (error, msg) => {
        if (!error) records.push(decodeRecord('measurements', msg.data));
      },
    });
    await listener.flush();
  });

  afterAll(async () => {
    await listener?.drain();
    await app?.get<Connection>(getConnectionToken()).dropDatabase();
    await app?.close();
    await driver?.stop(rt, 'v1');
    await driver?.close();
    await rm(root, { recursive: true, force: true });
  });

  it("publishes each replica's memory, CPU and restarts as a measurement of the version, CPU in cores from the second reading", async () => {
    expect(await sut.sample()).toBe(2);
    await expect.poll(() => records.length).toBe(2);
    expect(await sut.sample()).toBe(2);
    await expect.poll(() => records.length).toBe(4);

    const etl = records.filter((r) => (r.origin as Record<string, unknown>).replica === 'wf.etl#0');
    expect(etl).toHaveLength(2);
    for (const record of etl)
      expect(record).toMatchObject({
        name: REPLICA_RESOURCES_MEASUREMENT,
        origin: { runtimeId: rt, version: 'v1', workflow: 'wf', node: 'etl', replica: 'wf.etl#0' },
        tags: {
          workload: 'wf.etl',
          replica: '0',
          source: expect.stringMatching(/^(cgroup|proc|cgroup\+proc)$/) as string,
        },
        fields: { restarts: 0, state: 'RUNNING' },
      });
    const [first, second] = etl.map((r) => r.fields as Record<string, unknown>);
    // A stand-in node process holds tens of MiB.
    expect(first.memoryBytes).toBeGreaterThan(10 * 2 ** 20);
    expect(first.cpuSeconds).toBeGreaterThan(0);
    expect(first).not.toHaveProperty('cpuCores');
    expect(second.cpuCores).toBeGreaterThanOrEqual(0);
    const entrypoint = records.find(
      (r) => (r.origin as Record<string, unknown>).replica === 'entrypoint#0',
    );
    expect(entrypoint?.origin).toMatchObject({ node: 'entrypoint' });
    expect((entrypoint?.origin as Record<string, unknown>).workflow ?? '').toBe('');
  });
});
