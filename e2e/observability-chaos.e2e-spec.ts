import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  RecordIds,
  connectNats,
  encodeRecord,
  planVersionResources,
  provisionObservabilityStream,
} from '@libs/messaging';
import { Names } from '@libs/naming';
import {
  type AppProcess,
  engineCredentials,
  freePort,
  runApp,
  startFerretDb,
  testEnv,
  waitForHttp,
  workloadCredentials,
} from '@libs/testing';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const LINES = 10_000;
/** How long the database stays down in the first case (issue #15). */
const OUTAGE_MS = 20_000;

type FerretDb = Awaited<ReturnType<typeof startFerretDb>>;

/**
 * Count in = count out (#15): 10,000 log lines from a version's replica (published as the Node
 * runner's `ObsPublisher` publishes them: core NATS on `<p>.<rt>.obs.logs`, a producer-made id
 * each, under the NATS identity the deployer mints for the version) reach the runtime's database
 * exactly once each while (a) the database is stopped for 20 s and started again and (b) the
 * mongo-writer process is killed with SIGKILL in the middle of its batches and started again.
 * Every line carries its sequence number: afterwards each of 0…9,999 is stored once, under the id
 * it was published with. The database is this file's own FerretDB (the suite's is shared with
 * the other e2e files), stopped and started on the same port and data directory.
 */
describe('observability: count in = count out through a database outage and a killed mongo-writer', () => {
  const env = testEnv();
  const names = new Names(env.KRE_PREFIX);
  const dataDir = mkdtempSync(join(tmpdir(), 'kre-obs-chaos-'));
  let ferret: FerretDb;
  let mongoUrl: string;
  let mongo: MongoClient;
  let admin: NatsConnection;
  let jsm: JetStreamManager;
  let writerEnv: Record<string, string>;
  let writerPort: number;
  let writer: AppProcess | undefined;

  const startWriter = async () => {
    writer = runApp('mongo-writer', writerEnv);
    await waitForHttp(`http://127.0.0.1:${writerPort}/livez`, writer);
    return writer;
  };
  const health = async () => {
    const response = await fetch(`http://127.0.0.1:${writerPort}/health`);
    return (await response.json()) as { details?: Record<string, { status: string }> };
  };

  /** The version's replica: the NATS identity the deployer mints for it, publishing its lines. */
  const replica = async (rt: string) => {
    await provisionObservabilityStream(jsm, names, rt, { storage: 'file' });
    const resources = planVersionResources(names, rt, 'v1', [
      { name: 'wf', nodes: [{ name: 'n1', subscriptions: [] }] },
    ]);
    const nc = await connectNats({
      url: env.NATS_URL,
      credentials: await workloadCredentials(env, resources),
      name: `${rt}-v1-n1`,
    });
    const origin = { runtimeId: rt, version: 'v1', workflow: 'wf', node: 'n1', replica: 'r0' };
    const subject = names.obsSubject(rt, 'logs');
    const ids = new RecordIds();
    /** The id each line was published with, by its sequence number. */
    const published: string[] = [];
    /** Publishes lines `from`…`to - 1` (`seq` field and message), `perTick` every 20 ms. */
    const publish = async (from: number, to: number, perTick = to - from) => {
      for (let i = from; i < to; i++) {
        published[i] = ids.next();
        nc.publish(
          subject,
          encodeRecord('logs', {
            id: published[i],
            time: new Date(),
            origin,
            level: i % 10 === 0 ? 'WARN' : 'INFO',
            message: `line ${i}`,
            source: 'LOGGER',
            requestId: `req-${i}`,
            fields: { seq: i },
          }),
        );
        if ((i - from) % perTick === perTick - 1) {
          await nc.flush();
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      await nc.flush();
    };
    const close = () => nc.drain();
    return { publish, close, published };
  };

  const db = (rt: string) => mongo.db(names.runtimeDb(rt));
  /** Documents in the runtime's log collections (0 while the database is down). */
  const stored = async (rt: string): Promise<number> => {
    try {
      let count = 0;
      for (const { name } of await db(rt).listCollections().toArray())
        if (name.startsWith('logs_')) count += await db(rt).collection(name).countDocuments();
      return count;
    } catch {
      return 0;
    }
  };
  /** Every stored line: its `_id` and sequence number. */
  const lines = async (rt: string) => {
    const out: { id: unknown; seq: number; source: unknown }[] = [];
    for (const { name } of await db(rt).listCollections().toArray())
      if (name.startsWith('logs_'))
        for (const doc of await db(rt).collection(name).find().toArray())
          out.push({
            id: doc._id,
            seq: Number((doc.fields as { seq?: unknown } | undefined)?.seq),
            source: doc.source,
          });
    return out;
  };
  /** Exactly 0…9,999 once each, each under the id it was published with, and nothing else. */
  const expectEveryLineOnce = async (rt: string, published: readonly string[]) => {
    const all = await lines(rt);
    expect(all.filter((l) => l.source !== 'LOGGER')).toEqual([]); // no "dropped" notice either
    expect(all).toHaveLength(LINES);
    const seqs = all.map((l) => l.seq).sort((a, b) => a - b);
    const missing = Array.from({ length: LINES }, (_, i) => i).filter(
      (i) => seqs[i] !== i || seqs[i + 1] === i,
    );
    expect(missing).toEqual([]); // no gap, no sequence stored twice
    const wrongId = all.filter((l) => l.id !== published[l.seq]);
    expect(wrongId).toEqual([]);
    expect(new Set(all.map((l) => l.id)).size).toBe(LINES);
  };
  const streamCount = async (rt: string) =>
    (await jsm.streams.info(names.obsStream(rt))).state.messages;

  beforeAll(async () => {
    ferret = await startFerretDb(dataDir);
    mongoUrl = `mongodb://127.0.0.1:${ferret.port}/`;
    mongo = await MongoClient.connect(mongoUrl, {
      retryWrites: false,
      serverSelectionTimeoutMS: 2_000,
    });
    admin = await connectNats({ url: env.NATS_URL, credentials: env.NATS_CREDS, name: 'chaos' });
    jsm = await jetstreamManager(admin);
    writerPort = await freePort();
    writerEnv = {
      ...env,
      MONGO_URL: mongoUrl,
      NATS_CREDS: await engineCredentials(env, 'mongo-writer'),
      MONGO_WRITER_HEALTH_PORT: String(writerPort),
    };
    await startWriter();
  }, 120_000);

  afterAll(async () => {
    await writer?.stop();
    await mongo?.close();
    await admin?.drain();
    await ferret?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stores all 10,000 lines once when the database is stopped for 20 s mid-stream', async () => {
    const rt = 'chaos-db';
    const producer = await replica(rt);
    // A third of the lines flow and start being stored…
    await producer.publish(0, 3_000, 250);
    await expect.poll(() => stored(rt), { timeout: 30_000, interval: 100 }).toBeGreaterThan(0);
    // …then the database stops; the rest are logged while it is down.
    await ferret.stop();
    const down = Date.now();
    await producer.publish(3_000, LINES, 250);
    await producer.close();
    expect(await streamCount(rt)).toBe(LINES); // count in: the stream holds every line
    await expect
      .poll(async () => (await health()).details?.ingestion?.status, {
        timeout: 15_000,
        interval: 250,
      })
      .toBe('degraded');
    // The outage lasts 20 s (not an assertion: the scenario), then the same database returns.
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - down))));
    ferret = await startFerretDb(dataDir, ferret.port);

    await expect.poll(() => stored(rt), { timeout: 45_000, interval: 500 }).toBe(LINES);
    await expectEveryLineOnce(rt, producer.published);
    await expect
      .poll(async () => (await health()).details?.ingestion?.status, { timeout: 15_000 })
      .toBe('up');
    // Nothing waits in the stream: all of it was acked once written.
    const consumer = await jsm.consumers.info(names.obsStream(rt), names.obsConsumer());
    expect(consumer.num_pending + consumer.num_ack_pending).toBe(0);
  }, 120_000);

  it('stores all 10,000 lines once when mongo-writer is killed with SIGKILL mid-batch', async () => {
    const rt = 'chaos-kill';
    const producer = await replica(rt);
    // The version logs steadily (at most 2,500 lines/s) while mongo-writer writes batches.
    const logging = producer.publish(0, LINES, 50);
    // Killed while it holds delivered records it has not acked (a batch being written or
    // pulled ahead), at least 1,000 lines stored (acked: mongo-writer acks once written).
    const consumer = () => jsm.consumers.info(names.obsStream(rt), names.obsConsumer());
    await expect
      .poll(
        async () => {
          const info = await consumer();
          return info.ack_floor.stream_seq >= 1_000 && info.num_ack_pending > 0;
        },
        { timeout: 30_000, interval: 20 },
      )
      .toBe(true);
    writer?.child.kill('SIGKILL');
    expect(await writer?.exited).toBe('SIGKILL');
    const atKill = await stored(rt);
    await logging;
    await producer.close();
    expect(atKill).toBeLessThan(LINES);
    expect(await streamCount(rt)).toBe(LINES); // count in

    // A new mongo-writer on the same durable consumer: what the dead one held comes back to it
    // when the consumer's ack wait (30 s) runs out.
    await startWriter();
    await expect.poll(() => stored(rt), { timeout: 60_000, interval: 500 }).toBe(LINES);
    await expectEveryLineOnce(rt, producer.published);
    const after = await consumer();
    // The stream holds only these lines (sequences 1…10,000): more deliveries than that means
    // what the killed process held was delivered again.
    expect(after.delivered.stream_seq).toBe(LINES);
    expect(after.delivered.consumer_seq).toBeGreaterThan(LINES);
    expect(after.num_pending + after.num_ack_pending).toBe(0);
  }, 120_000);
});
