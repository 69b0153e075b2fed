import {
  AckPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  type RecordInputs,
  type RecordKind,
  RecordIds,
  connectNats,
  encodeRecord,
  provisionObservabilityStream,
} from '@libs/messaging';
import { Names } from '@libs/naming';
import { mongooseOptions } from '@libs/persistence';
import { engineCredentials, testEnv } from '@libs/testing';
import mongoose, { type Connection } from 'mongoose';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObsRecordsRepository } from './obs-records.repository.js';
import { type ObsIngestionOptions, ObsStreamsConsumer } from './obs-streams.consumer.js';

const OPTIONS: ObsIngestionOptions = {
  batchSize: 50,
  batchWaitMs: 1_000,
  discoveryMs: 300,
  retryMaxMs: 500,
  // Short, so what a dropped connection left unacked comes back within the test.
  ackWaitMs: 2_000,
  writeConcurrency: 2, // as in production: two batch writes at once
};

describe(ObsStreamsConsumer.name, () => {
  const env = testEnv();
  const names = new Names(env.KRE_PREFIX);
  const runtimes = ['rta', 'rtb', 'rtc', 'rtd'];
  let admin: NatsConnection;
  let jsm: JetStreamManager;
  let js: JetStreamClient;
  let connection: Connection;
  let credentials: string;
  let writer: NatsConnection;
  let sut: ObsStreamsConsumer;
  let metrics: Registry;
  /** A series' value for `runtime` (and `reason`), 0 when absent. */
  const metric = async (name: string, labels: Record<string, string>) => {
    const found = (await metrics.getSingleMetric(name)?.get())?.values.find((v) =>
      Object.entries(labels).every(([k, value]) => v.labels[k] === value),
    );
    return found?.value ?? 0;
  };

  /** mongo-writer as in production: its own NATS identity and inbox prefix. */
  const start = async () => {
    writer = await connectNats({
      url: env.NATS_URL,
      credentials,
      name: 'mongo-writer',
      inboxPrefix: names.engineInboxPrefix('mongo-writer'),
    });
    metrics = new Registry();
    sut = new ObsStreamsConsumer(
      writer,
      names,
      new ObsRecordsRepository(connection, names),
      OPTIONS,
      metrics,
    );
    sut.onApplicationBootstrap();
  };
  const stop = async () => {
    await sut.beforeApplicationShutdown();
    if (!writer.isClosed()) await writer.drain();
  };

  const origin = (rt: string) => ({
    runtimeId: rt,
    version: 'v1',
    workflow: 'wf',
    node: 'n1',
    replica: 'r1',
  });
  const publish = async <K extends RecordKind>(rt: string, kind: K, record: RecordInputs[K]) =>
    js.publish(names.obsSubject(rt, kind), encodeRecord(kind, record));
  const log = (rt: string, message: string, time = new Date()) =>
    publish(rt, 'logs', { time, origin: origin(rt), level: 'INFO', message, source: 'LOGGER' });

  const db = (rt: string) => connection.getClient().db(names.runtimeDb(rt));
  const collections = async (rt: string) =>
    (await db(rt).listCollections().toArray()).map((c) => c.name).sort();
  const messages = async (rt: string) => {
    const out: string[] = [];
    for (const name of await collections(rt))
      if (name.startsWith('logs_'))
        for (const doc of await db(rt).collection(name).find().toArray())
          out.push(String(doc.message));
    return out;
  };

  beforeAll(async () => {
    admin = await connectNats({ url: env.NATS_URL, credentials: env.NATS_CREDS, name: 'int-obs' });
    jsm = await jetstreamManager(admin);
    js = jetstream(admin);
    connection = await mongoose
      .createConnection(env.MONGO_URL, mongooseOptions(names.platformDb()))
      .asPromise();
    credentials = await engineCredentials(env, 'mongo-writer');
    for (const rt of ['rta', 'rtb'])
      await provisionObservabilityStream(jsm, names, rt, { storage: 'memory' });
  });
  afterAll(async () => {
    await stop();
    for (const rt of runtimes) {
      await jsm.streams.delete(names.obsStream(rt)).catch(() => undefined);
      await db(rt).dropDatabase();
    }
    await connection.close();
    await admin.drain();
  });

  it("stores each runtime's records in its own database, one collection per kind and UTC day", async () => {
    await log('rta', 'late', new Date('2026-12-05T23:59:59.500Z'));
    await log('rta', 'early', new Date('2026-12-06T00:00:01Z'));
    await publish('rta', 'predictions', {
      time: new Date('2026-12-06T10:00:00Z'),
      origin: origin('rta'),
      predictedValue: 'cat',
      trueValue: 'dog',
    });
    await publish('rta', 'measurements', {
      time: new Date('2026-12-06T10:00:00Z'),
      origin: origin('rta'),
      name: 'latency',
      fields: { ms: 12 },
    });
    await publish('rta', 'metrics', {
      start: new Date('2026-12-06T09:59:55Z'),
      end: new Date('2026-12-06T10:00:00Z'),
      origin: origin('rta'),
      fromNode: 'entrypoint',
      count: 3,
      errors: 1,
      elapsedMsSum: 30,
      elapsedMsMax: 20,
      bucketBoundsMs: [10],
      bucketCounts: [2, 1],
    });
    await log('rtb', 'from b', new Date('2026-12-06T12:00:00Z'));
    await start();

    await expect
      .poll(() => collections('rta'), { timeout: 15_000 })
      .toEqual([
        'logs_2026_12_05',
        'logs_2026_12_06',
        'measurements_2026_12_06',
        'metrics_2026_12_06',
        'predictions_2026_12_06',
      ]);
    await expect.poll(() => messages('rtb'), { timeout: 15_000 }).toEqual(['from b']);
    expect(await collections('rtb')).toEqual(['logs_2026_12_06']);
    // A collection can be listed a moment before its first insert is readable (FerretDB).
    await expect.poll(async () => (await messages('rta')).sort()).toEqual(['early', 'late']);
    const first = (collection: string) => () => db('rta').collection(collection).findOne({});
    await expect.poll(first('logs_2026_12_05')).toMatchObject({
      _id: 1,
      level: 'INFO',
      source: 'LOGGER',
      time: new Date('2026-12-05T23:59:59.500Z'),
      origin: { runtimeId: 'rta', version: 'v1', node: 'n1' },
    });
    await expect
      .poll(first('metrics_2026_12_06'))
      .toMatchObject({ _id: 5, count: 3, errors: 1, bucketCounts: [2, 1] });
    await expect
      .poll(first('predictions_2026_12_06'))
      .toMatchObject({ _id: 3, predictedValue: 'cat', trueValue: 'dog' });
    await expect(sut.health()).resolves.toBeUndefined();
  });

  it('terminates what it cannot decode (or what names another runtime) and goes on', async () => {
    const subject = names.obsSubject('rta', 'logs');
    await js.publish(subject, new Uint8Array([0xff, 0xff, 0x01]));
    await log('rta', 'forged', new Date('2026-12-06T13:00:00Z')).then(() => undefined);
    await js.publish(
      names.obsSubject('rtb', 'logs'),
      encodeRecord('logs', {
        time: new Date('2026-12-06T13:00:00Z'),
        origin: origin('rta'), // claims another runtime
        level: 'INFO',
        message: 'not mine',
        source: 'LOGGER',
      }),
    );
    await publish('rta', 'logs', {
      time: new Date('2026-12-06T13:00:01Z'),
      origin: origin('rta'),
      level: 'WARN',
      message: 'dotted fields',
      source: 'LOGGER',
      fields: { 'http.status': 503 },
    });
    await log('rta', 'after garbage', new Date('2026-12-06T13:00:01Z'));
    await expect
      .poll(async () => (await messages('rta')).includes('after garbage'), { timeout: 15_000 })
      .toBe(true);
    await expect.poll(() => sut.details().invalidRecords, { timeout: 15_000 }).toBe('2');
    const dotted = await db('rta')
      .collection('logs_2026_12_06')
      .findOne({ message: 'dotted fields' });
    expect(dotted?.fields).toEqual({ 'http\uff0estatus': 503 });
    expect(await messages('rtb')).toEqual(['from b']);
    for (const rt of ['rta', 'rtb']) {
      await expect
        .poll(
          async () => {
            const info = await jsm.consumers.info(names.obsStream(rt), names.obsConsumer());
            return [info.num_pending, info.num_ack_pending];
          },
          { timeout: 15_000 },
        )
        .toEqual([0, 0]);
    }
  });

  it('count in = count out, without duplicates, when its connection drops mid-stream and it restarts', async () => {
    const before = (await messages('rta')).length;
    const total = 1_500;
    const sent = Array.from({ length: total }, (_, i) => `line ${i}`);
    for (let i = 0; i < total; i += 250)
      await Promise.all(sent.slice(i, i + 250).map((text) => log('rta', text)));
    await expect
      .poll(async () => (await messages('rta')).length - before, { timeout: 15_000 })
      .toBeGreaterThan(0);
    // A crash, as far as NATS can tell: pulls and acks in flight are lost.
    await writer.close();
    await stop();
    const stored = (await messages('rta')).length - before;
    expect(stored).toBeLessThan(total);

    await start();
    await expect
      .poll(async () => (await messages('rta')).length - before, { timeout: 30_000 })
      .toBe(total);
    const lines = (await messages('rta')).filter((m) => m.startsWith('line '));
    expect(new Set(lines).size).toBe(total);
    expect(lines.sort()).toEqual([...sent].sort());
  });

  it('stores a record published or delivered again once, under the id its producer made', async () => {
    const ids = new RecordIds();
    const time = new Date('2026-12-07T08:00:00Z');
    const made = Array.from({ length: 20 }, () => ids.next());
    const records = made.map((id, i) =>
      encodeRecord('logs', {
        id,
        time,
        origin: origin('rta'),
        level: 'INFO',
        message: `twice ${i}`,
        source: 'LOGGER',
      }),
    );
    const subject = names.obsSubject('rta', 'logs');
    for (const bytes of records) await js.publish(subject, bytes);
    const twice = () =>
      db('rta')
        .collection('logs_2026_12_07')
        .find({ message: /^twice / })
        .toArray();
    await expect.poll(async () => (await twice()).length, { timeout: 15_000 }).toBe(20);
    // The same records again (a producer's retry, a batch redelivered after a crash): new
    // stream sequences, the same ids.
    for (const bytes of records) await js.publish(subject, bytes);
    await log('rta', 'after the repeats', time);
    await expect
      .poll(async () => (await messages('rta')).includes('after the repeats'), { timeout: 15_000 })
      .toBe(true);
    const stored = await twice();
    expect(stored).toHaveLength(20);
    expect(stored.map((d) => d._id as unknown as string).sort()).toEqual([...made].sort());
    expect(stored.every((d) => !('id' in d))).toBe(true);
    expect(
      await metric('kre_obs_records_duplicate_total', { runtime: 'rta' }),
    ).toBeGreaterThanOrEqual(20);
    // A record without an id (an older runner) is keyed by its stream sequence.
    const legacy = await db('rta')
      .collection('logs_2026_12_07')
      .findOne({ message: 'after the repeats' });
    expect(typeof legacy?._id).toBe('number');
  });

  it('picks up a runtime created after it started, and drops a removed one', async () => {
    await provisionObservabilityStream(jsm, names, 'rtc', { storage: 'memory' });
    await log('rtc', 'new runtime', new Date('2026-12-06T14:00:00Z'));
    await expect.poll(() => messages('rtc'), { timeout: 15_000 }).toEqual(['new runtime']);
    expect(sut.details().streams).toBe('3');
    await jsm.streams.delete(names.obsStream('rtc'));
    await expect.poll(() => sut.details().streams, { timeout: 15_000 }).toBe('2');
    await expect(sut.health()).resolves.toBeUndefined();
  });

  it('counts what it stored, what it skipped, and what the stream dropped before it read it (Prometheus)', async () => {
    const stream = names.obsStream('rtd');
    await provisionObservabilityStream(jsm, names, 'rtd', { storage: 'memory' });
    const { config } = await jsm.streams.info(stream);
    await jsm.streams.update(stream, { ...config, max_msgs: 3 }); // keeps the newest 3
    await log('rtd', 'first');
    await expect.poll(() => messages('rtd'), { timeout: 15_000 }).toEqual(['first']);
    // While nobody reads, 10 more arrive and the stream keeps the last 3: 7 are lost.
    await jsm.consumers.pause(stream, names.obsConsumer(), new Date(Date.now() + 3_600_000));
    for (let i = 0; i < 10; i++) await log('rtd', `burst ${i}`);
    await jsm.consumers.resume(stream, names.obsConsumer());
    await expect.poll(async () => (await messages('rtd')).length, { timeout: 15_000 }).toBe(5);
    const lines = (await messages('rtd')).sort();
    expect(lines.filter((m) => !m.startsWith('7 records'))).toEqual([
      'burst 7',
      'burst 8',
      'burst 9',
      'first',
    ]);
    // One line in the runtime's own logs says how many the stream dropped.
    const [day] = (await collections('rtd')).filter((c) => c.startsWith('logs_')).slice(-1);
    const notice = await db('rtd').collection(day).findOne({ source: 'INGESTION' });
    expect(notice).toMatchObject({
      level: 'WARN',
      origin: { runtimeId: 'rtd', node: 'mongo-writer' },
      fields: { dropped: 7 },
    });
    expect(String(notice?.message)).toMatch(
      /^7 records were dropped by the runtime's observability stream/,
    );

    expect(
      await metric('kre_obs_records_dropped_total', { runtime: 'rtd', reason: 'stream_limit' }),
    ).toBe(7);
    // The 4 records, and the notice.
    expect(await metric('kre_obs_records_stored_total', { runtime: 'rtd' })).toBe(5);
    expect(await metric('kre_obs_ingestion_lag_records', { runtime: 'rtd' })).toBe(0);
    expect(await metric('kre_obs_records_dropped_total', { runtime: 'rtb' })).toBe(0);
    const text = await metrics.metrics();
    expect(text).toContain('kre_obs_write_batch_seconds_count{runtime="rtd"}');
  });

  it('its identity reads observability records only: its own consumer, filtered on obs subjects', async () => {
    const workflowStream = `${names.obsStream('rta')}_WF`;
    await jsm.streams.add({ name: workflowStream, subjects: [names.versionSubjects('rta', 'v1')] });
    const mine = await jetstreamManager(writer, { checkAPI: false });
    const consumer = (name: string, filter?: string) => ({
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      ...(filter ? { filter_subject: filter } : {}),
    });
    try {
      // Its own consumer on a workflow stream can only be filtered on obs subjects, which a
      // workflow stream never holds: it delivers nothing.
      await js.publish(names.entrypointSubject('rta', 'v1', 'wf'), new Uint8Array([1]));
      const created = await mine.consumers.add(
        workflowStream,
        consumer(names.obsConsumer(), `${names.obsPrefix('rta')}.>`),
      );
      expect(created.num_pending).toBe(0);
      await jsm.consumers.delete(workflowStream, names.obsConsumer());
      // The filter in the request must be the one in the (permitted) API subject.
      const smuggled = await writer.request(
        `$JS.API.CONSUMER.CREATE.${workflowStream}.${names.obsConsumer()}.${names.obsPrefix('rta')}.>`,
        JSON.stringify({
          stream_name: workflowStream,
          config: consumer(names.obsConsumer(), names.versionSubjects('rta', 'v1')),
        }),
      );
      expect(smuggled.json<{ error?: { err_code: number } }>().error).toBeDefined();
      // Any other filter, no filter, or another name: its permissions refuse them.
      for (const config of [
        consumer(names.obsConsumer(), names.versionSubjects('rta', 'v1')),
        consumer(names.obsConsumer()),
        consumer('other', `${names.obsPrefix('rta')}.>`),
      ])
        await expect(mine.consumers.add(workflowStream, config)).rejects.toThrow(/permission/i);
      expect(await jsm.consumers.list(workflowStream).next()).toEqual([]);
    } finally {
      await jsm.streams.delete(workflowStream);
    }
  });

  it('writes a redelivered batch once: ids already stored are skipped', async () => {
    const repository = new ObsRecordsRepository(connection, names);
    const writes = [1, 2, 3].map((n) => ({
      collection: 'logs_2026_01_01',
      document: { _id: 1_000_000 + n, message: `again ${n}` },
    }));
    expect(await repository.insertBatch('rtc', writes.slice(0, 2))).toEqual({
      inserted: 2,
      duplicates: 0,
      refused: [],
    });
    // What the database refuses is named, never retried; the rest of the batch is written.
    const refusedKey = {
      collection: 'logs_2026_01_01',
      document: { _id: 2_000_000, fields: { 'a.b': 1, $c: 2 } },
    };
    const result = await repository.insertBatch('rtc', [...writes, refusedKey]);
    expect(result).toMatchObject({ inserted: 1, duplicates: 2 });
    expect(result.refused.map((r) => r.id)).toEqual([2_000_000]);
    expect(await db('rtc').collection('logs_2026_01_01').countDocuments()).toBe(3);
  });
});
