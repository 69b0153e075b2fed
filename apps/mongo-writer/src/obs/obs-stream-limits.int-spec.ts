import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  connectNats,
  encodeRecord,
  provisionObservabilityStream,
  updateObservabilityStreamLimits,
} from '@libs/messaging';
import { Names } from '@libs/naming';
import { mongooseOptions } from '@libs/persistence';
import { engineCredentials, testEnv } from '@libs/testing';
import mongoose, { type Connection } from 'mongoose';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ObsRecordsRepository } from './obs-records.repository.js';
import { type ObsIngestionOptions, ObsStreamsConsumer } from './obs-streams.consumer.js';

const OPTIONS: ObsIngestionOptions = {
  batchSize: 100,
  batchWaitMs: 1_000,
  discoveryMs: 300,
  retryMaxMs: 500,
  ackWaitMs: 5_000,
};

/**
 * Beyond a runtime's observability stream limits (its `max_bytes` and `max_age`, as
 * `provisionObservabilityStream` sets them, discarding the oldest), records are lost before
 * mongo-writer reads them: it notices the jump in the stream sequences it is delivered, counts
 * the lost records in `kre_obs_records_dropped_total{reason="stream_limit"}` and writes one line
 * into the runtime's logs saying how many. Real NATS and FerretDB.
 */
describe('observability stream limits: what the stream drops is counted and said once', () => {
  const env = testEnv();
  const names = new Names(env.KRE_PREFIX);
  const runtimes = ['quota-bytes', 'quota-age', 'quota-shrunk'];
  let admin: NatsConnection;
  let jsm: JetStreamManager;
  let js: JetStreamClient;
  let connection: Connection;
  let credentials: string;
  const running: { writer: NatsConnection; sut: ObsStreamsConsumer }[] = [];

  /** A mongo-writer (its ingestion, its own identity and metrics registry). */
  const start = async () => {
    const writer = await connectNats({
      url: env.NATS_URL,
      credentials,
      name: 'mongo-writer',
      inboxPrefix: names.engineInboxPrefix('mongo-writer'),
    });
    const metrics = new Registry();
    const sut = new ObsStreamsConsumer(
      writer,
      names,
      new ObsRecordsRepository(connection, names),
      OPTIONS,
      metrics,
    );
    sut.onApplicationBootstrap();
    running.push({ writer, sut });
    /** The series' value for the runtime (and reason), 0 when absent. */
    const metric = async (name: string, labels: Record<string, string>) =>
      (await metrics.getSingleMetric(name)?.get())?.values.find((v) =>
        Object.entries(labels).every(([k, value]) => v.labels[k] === value),
      )?.value ?? 0;
    const stop = async () => {
      await sut.beforeApplicationShutdown();
      await writer.drain();
      running.splice(
        running.findIndex((r) => r.sut === sut),
        1,
      );
    };
    return { metric, stop };
  };

  const log = (rt: string, message: string) =>
    js.publish(
      names.obsSubject(rt, 'logs'),
      encodeRecord('logs', {
        time: new Date(),
        origin: { runtimeId: rt, version: 'v1', workflow: 'wf', node: 'n1', replica: 'r1' },
        level: 'INFO',
        message,
        source: 'LOGGER',
        fields: { padding: 'x'.repeat(200) },
      }),
    );
  const db = (rt: string) => connection.getClient().db(names.runtimeDb(rt));
  const documents = async (rt: string) => {
    const out: { message: string; source: string; fields?: { dropped?: number } }[] = [];
    for (const { name } of await db(rt).listCollections().toArray())
      if (name.startsWith('logs_'))
        out.push(...((await db(rt).collection(name).find().toArray()) as never[]));
    return out;
  };
  const stream = (rt: string) => jsm.streams.info(names.obsStream(rt)).then((i) => i.state);

  beforeAll(async () => {
    admin = await connectNats({ url: env.NATS_URL, credentials: env.NATS_CREDS, name: 'int-lim' });
    jsm = await jetstreamManager(admin);
    js = jetstream(admin);
    connection = await mongoose
      .createConnection(env.MONGO_URL, mongooseOptions(names.platformDb()))
      .asPromise();
    credentials = await engineCredentials(env, 'mongo-writer');
  });
  afterEach(async () => {
    for (const { sut, writer } of running.splice(0)) {
      await sut.beforeApplicationShutdown();
      await writer.drain();
    }
  });
  afterAll(async () => {
    for (const rt of runtimes) {
      await jsm.streams.delete(names.obsStream(rt)).catch(() => undefined);
      await db(rt).dropDatabase();
    }
    await connection.close();
    await admin.drain();
  });

  it('past the stream’s maximum bytes the oldest records go: counted, and one line says how many', async () => {
    const rt = 'quota-bytes';
    await provisionObservabilityStream(jsm, names, rt, { storage: 'file', maxBytes: 64 * 1024 });
    const writer = await start();
    await log(rt, 'first');
    await expect.poll(async () => (await documents(rt)).length, { timeout: 15_000 }).toBe(1);
    // While mongo-writer does not read (its consumer paused), 1,000 records of about 400 bytes
    // arrive: the stream keeps the newest that fit in 64 KiB and discards the oldest.
    const consumer = names.obsConsumer();
    await jsm.consumers.pause(names.obsStream(rt), consumer, new Date(Date.now() + 3_600_000));
    for (let i = 0; i < 1_000; i++) await log(rt, `burst ${i}`);
    const { first_seq: firstKept, messages: kept, bytes } = await stream(rt);
    expect(bytes).toBeLessThanOrEqual(64 * 1024);
    const dropped = firstKept - 2; // sequence 1 ("first") was stored, 2 … firstKept - 1 are gone
    expect(dropped).toBeGreaterThan(500);
    await jsm.consumers.resume(names.obsStream(rt), consumer);

    // The kept records, "first" and one notice.
    await expect.poll(async () => (await documents(rt)).length, { timeout: 20_000 }).toBe(kept + 2);
    const stored = await documents(rt);
    const notices = stored.filter((d) => d.source === 'INGESTION');
    expect(notices).toHaveLength(1);
    expect(notices[0]?.fields?.dropped).toBe(dropped);
    expect(notices[0]?.message).toBe(
      `${dropped} records were dropped by the runtime's observability stream before they could be stored (its maximum age or size was reached while they waited)`,
    );
    // The newest were kept: bursts dropped … 999, in a row.
    const bursts = stored
      .filter((d) => d.message.startsWith('burst '))
      .map((d) => Number(d.message.slice(6)))
      .sort((a, b) => a - b);
    expect(bursts).toEqual(Array.from({ length: kept }, (_, i) => dropped + i));
    expect(await writer.metric('kre_obs_records_dropped_total', { runtime: rt })).toBe(dropped);
    expect(await writer.metric('kre_obs_records_stored_total', { runtime: rt })).toBe(kept + 2);
  });

  it('a quota lowered in place drops the oldest waiting records at once: counted the same way', async () => {
    const rt = 'quota-shrunk';
    await provisionObservabilityStream(jsm, names, rt, { storage: 'file' }); // 1 GiB, 7 days
    const writer = await start();
    await log(rt, 'first');
    await expect.poll(async () => (await documents(rt)).length, { timeout: 15_000 }).toBe(1);
    const consumer = names.obsConsumer();
    await jsm.consumers.pause(names.obsStream(rt), consumer, new Date(Date.now() + 3_600_000));
    for (let i = 0; i < 1_000; i++) await log(rt, `waiting ${i}`);
    expect((await stream(rt)).messages).toBe(1_001);
    // The runtime's quota is lowered (the deployer's update-quota job): the stream keeps only
    // the newest that fit.
    const limits = { maxBytes: 64 * 1024, maxAgeMs: 7 * 86_400_000 };
    expect(await updateObservabilityStreamLimits(jsm, names, rt, limits)).toBe(true);
    const { first_seq: firstKept, messages: kept, bytes } = await stream(rt);
    expect(bytes).toBeLessThanOrEqual(64 * 1024);
    const dropped = firstKept - 2;
    expect(dropped).toBeGreaterThan(500);
    expect(kept).toBe(1_000 - dropped);
    await jsm.consumers.resume(names.obsStream(rt), consumer);

    await expect.poll(async () => (await documents(rt)).length, { timeout: 20_000 }).toBe(kept + 2);
    const notices = (await documents(rt)).filter((d) => d.source === 'INGESTION');
    expect(notices.map((n) => n.fields?.dropped)).toEqual([dropped]);
    expect(
      await writer.metric('kre_obs_records_dropped_total', {
        runtime: rt,
        reason: 'stream_limit',
      }),
    ).toBe(dropped);
  });

  it('past the stream’s maximum age while no mongo-writer runs: the next one counts the gap', async () => {
    const rt = 'quota-age';
    await provisionObservabilityStream(jsm, names, rt, { storage: 'file', maxAgeMs: 2_000 });
    const first = await start();
    await log(rt, 'before');
    await expect.poll(async () => (await documents(rt)).length, { timeout: 15_000 }).toBe(1);
    await first.stop();
    // Nobody reads; 20 records come and age out of the stream.
    for (let i = 0; i < 20; i++) await log(rt, `aged ${i}`);
    await expect.poll(async () => (await stream(rt)).messages, { timeout: 15_000 }).toBe(0);
    await log(rt, 'after');

    const next = await start();
    await expect.poll(async () => (await documents(rt)).length, { timeout: 15_000 }).toBe(3);
    const stored = await documents(rt);
    expect(stored.map((d) => d.message).filter((m) => !m.includes('dropped'))).toEqual(
      expect.arrayContaining(['before', 'after']),
    );
    expect(stored.find((d) => d.source === 'INGESTION')?.fields?.dropped).toBe(20);
    expect(
      await next.metric('kre_obs_records_dropped_total', { runtime: rt, reason: 'stream_limit' }),
    ).toBe(20);
  });
});
