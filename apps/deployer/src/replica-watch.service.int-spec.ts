import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplicationContext } from '@nestjs/common';
import { MongooseModule, getConnectionToken } from '@nestjs/mongoose';
import { Test } from '@nestjs/testing';
import { VersionStatus } from '@libs/core';
import type { Krt } from '@libs/krt';
import {
  EngineLogPublisher,
  NATS_CONNECTION,
  NatsModule,
  RECORD_ID,
  connectNats,
  decodeRecord,
  encodeRecord,
  planVersionResources,
} from '@libs/messaging';
import { Names } from '@libs/naming';
import type { DeploymentPlan, LocalDriver, WorkloadSpec } from '@libs/orchestrator';
import { CatalogModule, VersionsRepository, mongooseOptions } from '@libs/persistence';
import { testEnv } from '@libs/testing';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeWorkload, fakeWorkloadDriver } from './fixtures/fake-workloads.js';
import { ORCHESTRATOR_DRIVER } from './orchestrator.provider.js';
import { REPLICA_WATCH_PERIOD_MS, ReplicaWatchService } from './replica-watch.service.js';
import { VersionLogService } from './version-log.service.js';

const SECRET = 'tok-s3cr3t-4242';

/** A stand-in workload: prints its config value (to be masked), serves /readyz until killed. */

const workload = (id: string): WorkloadSpec =>
  fakeWorkload(id, { KRT_CONFIG_KEYS: 'TOKEN', TOKEN: SECRET });

/**
 * The deployer's replica watch against a real LocalDriver running stand-in processes, the real
 * catalog on FerretDB and the real NATS: a replica killed with SIGKILL becomes two lines of the
 * version's logs (the crash with how it ended and its masked last lines; running again).
 */
describe(ReplicaWatchService.name, () => {
  const env = testEnv();
  const names = new Names(env.KRE_PREFIX);
  const rt = 'watch-rt';
  let root: string;
  let driver: LocalDriver;
  let app: INestApplicationContext;
  let sut: ReplicaWatchService;
  let listener: NatsConnection;
  const lines: Record<string, unknown>[] = [];

  const plan: DeploymentPlan = {
    prefix: env.KRE_PREFIX,
    runtimeId: rt,
    versionName: 'v1',
    workloads: [workload('entrypoint'), workload('wf.etl')],
    resources: planVersionResources(names, rt, 'v1', []),
    krtBucket: 'unused',
    routes: {},
  };

  /** Everything published before this returns has been received (one publisher connection). */
  const flush = async () => {
    const marker = `marker ${randomBytes(4).toString('hex')}`;
    app.get<NatsConnection>(NATS_CONNECTION).publish(
      names.obsSubject(rt, 'logs'),
      encodeRecord('logs', {
        time: new Date(),
        origin: { runtimeId: rt, version: 'v1', workflow: '', node: 'test', replica: 't' },
        level: 'DEBUG',
        message: marker,
        source: 'RUNNER',
      }),
    );
    await expect.poll(() => lines.some((l) => l.message === marker)).toBe(true);
    return lines.filter((l) => l.source === 'LOG_SOURCE_DEPLOYER');
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'kre-replica-watch-'));
    driver = await fakeWorkloadDriver(root, env.KRE_PREFIX);
    await driver.apply(plan);
    await driver.waitReady(rt, 'v1', 10_000);

    const moduleRef = await Test.createTestingModule({
      imports: [
        MongooseModule.forRoot(env.MONGO_URL, mongooseOptions(`${env.KRE_PREFIX}_watch`)),
        CatalogModule.forRoot({ configEncryptionKey: randomBytes(32).toString('base64') }),
        NatsModule.forRoot({ url: env.NATS_URL, credentials: env.NATS_CREDS, name: 'deployer' }),
      ],
      providers: [
        { provide: Names, useValue: names },
        { provide: ORCHESTRATOR_DRIVER, useValue: driver },
        // Swept by the test, one look at a time.
        { provide: REPLICA_WATCH_PERIOD_MS, useValue: 3_600_000 },
        EngineLogPublisher,
        VersionLogService,
        ReplicaWatchService,
      ],
    }).compile();
    app = await moduleRef.init();
    sut = app.get(ReplicaWatchService);
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
    listener.subscribe(names.obsSubject(rt, 'logs'), {
      callback: (error, msg) => {
        if (!error) lines.push(decodeRecord('logs', msg.data));
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

  it("says nothing of replicas that run, then writes a crash (how it ended, masked last lines) and the restart to the version's logs", async () => {
    await sut.sweep(); // what runs when the deployer starts is its baseline
    expect(await flush()).toEqual([]);

    const victim = (await driver.status(rt, 'v1')).find((s) => s.workloadId === 'wf.etl')!;
    process.kill(victim.pid!, 'SIGKILL');
    await expect
      .poll(async () => (await driver.status(rt, 'v1')).find((s) => s.workloadId === 'wf.etl'), {
        timeout: 10_000,
      })
      .toMatchObject({ state: 'RUNNING', restarts: 1 });
    await sut.sweep();

    const [crash, again, ...rest] = await flush();
    expect(rest).toEqual([]);
    expect(crash).toMatchObject({
      level: 'LOG_LEVEL_ERROR',
      origin: { runtimeId: rt, version: 'v1', workflow: 'wf', node: 'etl' },
      fields: { replica: 0, restarts: 1 },
    });
    expect(crash.message).toMatch(
      /^replica 0 of wf\.etl crashed \(restart 1\): killed by SIGKILL; last output: starting with \*\*\*/,
    );
    expect(JSON.stringify(lines)).not.toContain(SECRET);
    expect(again).toMatchObject({
      level: 'LOG_LEVEL_INFO',
      message: 'replica 0 of wf.etl is running again (restart 1)',
      origin: { workflow: 'wf', node: 'etl' },
    });
    expect(crash.id).toMatch(RECORD_ID);

    // Nothing new, nothing said again.
    await sut.sweep();
    expect(await flush()).toHaveLength(2);
  });
});
