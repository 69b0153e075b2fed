import { type Server, type Socket, connect, createServer } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, encodeRecord, provisionObservabilityStream } from '@libs/messaging';
import { Names } from '@libs/naming';
import { startHttpApp } from '@libs/observability';
import { mongooseOptions } from '@libs/persistence';
import { engineCredentials, freePort, testEnv } from '@libs/testing';
import mongoose, { type Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mongoWriterEnvSchema } from './mongo-writer.env.js';
import { MongoWriterModule } from './mongo-writer.module.js';

/** A TCP relay to the database that the test cuts and restores: the database "goes down". */
class Relay {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  constructor(
    private readonly target: { host: string; port: number },
    readonly port: number,
  ) {}

  async open(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server?.listen(this.port, '127.0.0.1', resolve));
  }

  async cut(): Promise<void> {
    const closed = new Promise((resolve) => this.server?.close(resolve));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}

describe(MongoWriterModule.name, () => {
  const env = testEnv();
  const names = new Names(env.KRE_PREFIX);
  let admin: NatsConnection;
  let js: JetStreamClient;
  let connection: Connection;
  let relay: Relay;
  let app: INestApplication;
  let url: string;

  const health = async () =>
    (
      (await (await fetch(`${url}/health`)).json()) as {
        details: Record<string, Record<string, string>>;
      }
    ).details;
  const stored = async () => {
    const db = connection.getClient().db(names.runtimeDb('shop'));
    let count = 0;
    for (const { name } of await db.listCollections().toArray())
      count += await db.collection(name).countDocuments();
    return count;
  };
  const log = (message: string) =>
    js.publish(
      names.obsSubject('shop', 'logs'),
      encodeRecord('logs', {
        time: new Date(),
        origin: { runtimeId: 'shop', version: 'v1', workflow: 'wf', node: 'n', replica: 'r' },
        level: 'INFO',
        message,
        source: 'LOGGER',
      }),
    );

  beforeAll(async () => {
    admin = await connectNats({ url: env.NATS_URL, credentials: env.NATS_CREDS, name: 'int-mw' });
    js = jetstream(admin);
    await provisionObservabilityStream(await jetstreamManager(admin), names, 'shop', {
      storage: 'memory',
    });
    connection = await mongoose
      .createConnection(env.MONGO_URL, mongooseOptions(names.platformDb()))
      .asPromise();
    const target = new URL(env.MONGO_URL);
    relay = new Relay({ host: target.hostname, port: Number(target.port) }, await freePort());
    await relay.open();
    const appEnv = mongoWriterEnvSchema.parse({
      ...env,
      MONGO_URL: `mongodb://127.0.0.1:${relay.port}/`,
      NATS_CREDS: await engineCredentials(env, 'mongo-writer'),
      MONGO_WRITER_HEALTH_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
    });
    ({ app, url } = await startHttpApp(
      'mongo-writer',
      MongoWriterModule.forRoot(appEnv, {
        batchSize: 100,
        batchWaitMs: 1_000,
        discoveryMs: 500,
        retryMaxMs: 500,
        ackWaitMs: 30_000,
      }),
      appEnv,
      {
        host: '127.0.0.1',
        port: appEnv.MONGO_WRITER_HEALTH_PORT,
      },
    ));
  });
  afterAll(async () => {
    await app?.close();
    await jetstreamManager(admin).then((jsm) => jsm.streams.delete(names.obsStream('shop')));
    await connection.getClient().db(names.runtimeDb('shop')).dropDatabase();
    await connection.close();
    await admin.drain();
  });

  it('ingests with its own identity and shows the ingestion in /health', async () => {
    await log('first');
    await expect.poll(stored, { timeout: 15_000 }).toBe(1);
    expect((await health()).ingestion).toEqual({
      status: 'up',
      streams: '1',
      lag: '0',
      invalidRecords: '0',
    });
  });

  it('while the database is down acks nothing and is degraded; resumes when it is back', async () => {
    await relay.cut();
    await log('while down');
    await expect
      .poll(async () => (await health()).ingestion?.status, { timeout: 30_000, interval: 500 })
      .toBe('degraded');
    const jsm = await jetstreamManager(admin);
    const info = await jsm.consumers.info(names.obsStream('shop'), names.obsConsumer());
    expect(info.num_ack_pending + info.num_pending).toBe(1);
    expect(info.ack_floor.stream_seq).toBe(1);

    await relay.open();
    await expect.poll(stored, { timeout: 30_000, interval: 500 }).toBe(2);
    await expect
      .poll(async () => (await health()).ingestion?.status, { timeout: 10_000 })
      .toBe('up');
    // The failed writes and the stored records are on /metrics (Prometheus).
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('kre_obs_records_stored_total{runtime="shop"} 2');
    expect(metrics).toMatch(/^kre_obs_write_failures_total\{runtime="shop"\} [1-9]\d*$/m);
  });
});
