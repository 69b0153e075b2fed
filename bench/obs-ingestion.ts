/**
 * bench/obs-ingestion (issue 15): observability ingestion, end to end, against its floor in the
 * same run and the same database.
 * - end to end: log records published as the runners publish them (core NATS on
 *   `<p>.<rt>.obs.logs`, each with a producer-made id) → the runtime's stream → the mongo-writer
 *   process (from dist/) → FerretDB; timed from the first publish until mongo-writer's
 *   `kre_obs_records_stored_total` for the runtime reaches the count (its /metrics, polled every
 *   100 ms: each scrape costs mongo-writer its process series).
 * - floor: a bare `insertMany` loop (unordered batches of mongo-writer's batch size, one at a
 *   time) of the same documents (mongo-writer's own `toObsWrite` of the same records) into
 *   another collection of the same database with the same shape: the read index mongo-writer
 *   gives every day collection (`readIndexOf`), which FerretDB maintains on every insert
 *   (without it the floor is about a quarter faster: not the same work).
 * The end-to-end timing starts once mongo-writer consumes the runtime's stream (its durable
 * consumer exists): a new runtime's discovery (every 5 s) is not ingestion throughput.
 * Prints both in records/s and their ratio (target ≥ 0.7), and for reference two such loops at
 * once (mongo-writer writes up to two batches of a stream at once). The floor runs before and
 * after the end-to-end run; their mean is the baseline (the machine is shared).
 *
 * Run: npm run build && npm run bench:obs -- [--records 20000] [--profile] [--dist <build folder>]
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '20000' },
    /** Writes a CPU profile of the mongo-writer process into bench/out/obs-ingestion/. */
    profile: { type: 'boolean', default: false },
    /** Another build's folder (default dist/): compares two builds of mongo-writer in turn. */
    dist: { type: 'string' },
  },
});
const RECORDS = Number(args.records);
const RUNTIME = 'bench-obs';

const dist = args.dist
  ? new URL(`file://${resolve(args.dist)}/`)
  : new URL('../dist/', import.meta.url);
const messaging = (await import(new URL('libs/messaging/src/index.js', dist).href)) as {
  connectNats: (o: { url: string; credentials?: string; name: string }) => Promise<{
    publish(subject: string, data: Uint8Array): void;
    flush(): Promise<void>;
    drain(): Promise<void>;
  }>;
  encodeRecord: (kind: 'logs', record: Record<string, unknown>) => Uint8Array;
  decodeRecord: (kind: 'logs', bytes: Uint8Array) => Record<string, unknown>;
  newRecordId: () => string;
  provisionObservabilityStream: (
    jsm: unknown,
    names: unknown,
    runtimeId: string,
    options?: { storage?: 'file' | 'memory' },
  ) => Promise<string>;
};
const { Names } = (await import(new URL('libs/naming/src/index.js', dist).href)) as {
  Names: new (prefix: string) => {
    obsSubject(rt: string, kind: 'logs'): string;
    obsStream(rt: string): string;
    obsConsumer(): string;
    runtimeDb(rt: string): string;
  };
};
const { toObsWrite } = (await import(
  new URL('apps/mongo-writer/src/obs/obs-documents.js', dist).href
)) as {
  toObsWrite: (
    kind: 'logs',
    sequence: number,
    record: Record<string, unknown>,
    received: Date,
  ) => { collection: string; document: Record<string, unknown> };
};
const { readIndexOf } = (await import(
  new URL('apps/mongo-writer/src/obs/obs-records.repository.js', dist).href
)) as { readIndexOf: (kind: string) => Record<string, -1> };
/** mongo-writer's batch size, which the floor's batches match. */
const BATCH = (
  (await import(new URL('apps/mongo-writer/src/obs/obs-streams.consumer.js', dist).href)) as {
    DEFAULT_OBS_INGESTION: { batchSize: number };
  }
).DEFAULT_OBS_INGESTION.batchSize;
const { jetstreamManager } = await import('@nats-io/jetstream');
const { benchAppEnv } = (await import(
  new URL('./harness.ts', import.meta.url).href
)) as typeof import('./harness.js');
const { startServices, freePort } = (await import(
  new URL('../libs/testing/src/services.ts', import.meta.url).href
)) as typeof import('../libs/testing/src/services.js');

const services = await startServices();
const env = benchAppEnv(services.urls as unknown as Record<string, string>);
const names = new Names(env.KRE_PREFIX);
const port = await freePort();
const profileDir = new URL('./out/obs-ingestion/', import.meta.url).pathname;
const profile = args.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
const writer = spawn(
  process.execPath,
  [...profile, new URL('apps/mongo-writer/src/main.js', dist).pathname],
  {
    env: { ...env, MONGO_WRITER_HEALTH_PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  },
);
const metricsUrl = `http://127.0.0.1:${port}/metrics`;
const mongo = await MongoClient.connect(env.MONGO_URL);
const nc = await messaging.connectNats({
  url: env.NATS_URL,
  credentials: env.NATS_CREDS,
  name: 'bench-obs',
});

try {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 300) throw new Error('mongo-writer did not become healthy');
    await new Promise((r) => setTimeout(r, 100));
  }
  await messaging.provisionObservabilityStream(
    await jetstreamManager(nc as never),
    names,
    RUNTIME,
    {
      storage: 'file',
    },
  );
  // mongo-writer finds the new stream (every 5 s) and makes its consumer: ingesting from here.
  const jsm = await jetstreamManager(nc as never);
  for (let i = 0; ; i++) {
    try {
      await jsm.consumers.info(names.obsStream(RUNTIME), names.obsConsumer());
      break;
    } catch {
      if (i > 300) throw new Error('mongo-writer did not consume the stream');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const origin = { runtimeId: RUNTIME, version: 'v1', workflow: 'wf', node: 'n1', replica: 'r1' };
  const record = (i: number, time: Date) =>
    messaging.encodeRecord('logs', {
      id: messaging.newRecordId(),
      time,
      origin,
      level: i % 10 === 0 ? 'WARN' : 'INFO',
      message: `request ${i} handled: label=cat score=0.93 took=12ms`,
      source: 'LOGGER',
      requestId: `req-${i % 997}`,
      fields: { i, ok: true },
    });
  const db = mongo.db(names.runtimeDb(RUNTIME));

  // The floor: the documents mongo-writer would write for the same records, inserted bare.
  /** `parallel` loops at once (1: the floor; 2: as many writes as mongo-writer has at once). */
  const floor = async (run: number, parallel = 1): Promise<number> => {
    const now = new Date();
    const documents = Array.from({ length: RECORDS }, (_, i) => {
      const bytes = record(i, now);
      return toObsWrite('logs', i + 1, messaging.decodeRecord('logs', bytes), now).document;
    });
    const collection = db.collection(`floor_${run}`);
    await collection.createIndex(readIndexOf('logs'));
    const started = performance.now();
    let next = 0;
    const loop = async () => {
      for (let i = next; i < documents.length; i = next) {
        next += BATCH;
        await collection.insertMany(documents.slice(i, i + BATCH), { ordered: false });
      }
    };
    await Promise.all(Array.from({ length: parallel }, loop));
    const seconds = (performance.now() - started) / 1000;
    await collection.drop();
    return RECORDS / seconds;
  };

  const stored = async (): Promise<number> => {
    const text = await (await fetch(metricsUrl)).text();
    const line = new RegExp(`^kre_obs_records_stored_total\\{runtime="${RUNTIME}"\\} (\\d+)`, 'm');
    return Number(line.exec(text)?.[1] ?? 0);
  };

  /** CPU seconds used so far by this process (the publisher, the floor's client) and each child. */
  const cpu = (): Map<string, number> => {
    const own = process.cpuUsage();
    const out = new Map([['bench (publisher, client)', (own.user + own.system) / 1e6]]);
    const children = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], {
      encoding: 'utf8',
    });
    for (const line of children.trim().split('\n')) {
      const [pid = '', comm = ''] = line.trim().split(/\s+/);
      try {
        // utime and stime (fields 14 and 15, clock ticks of 10 ms), after the command's ")".
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const name = pid === String(writer.pid) ? 'mongo-writer' : comm;
        out.set(name, (Number(fields[11]) + Number(fields[12])) / 100);
      } catch {
        // ended meanwhile
      }
    }
    return out;
  };
  /** CPU seconds each process used between two `cpu()` readings, busiest first. */
  const cpuSpent = (before: Map<string, number>, after: Map<string, number>) =>
    [...after]
      .map(([name, seconds]) => [name, seconds - (before.get(name) ?? 0)] as const)
      .filter(([, seconds]) => seconds >= 0.05)
      .sort((a, b) => b[1] - a[1])
      .map(([name, seconds]) => `${name} ${seconds.toFixed(1)} s`)
      .join(', ');

  const endToEnd = async (): Promise<number> => {
    const subject = names.obsSubject(RUNTIME, 'logs');
    const before = await stored();
    const started = performance.now();
    const now = new Date();
    for (let i = 0; i < RECORDS; i++) {
      nc.publish(subject, record(i, now));
      if (i % 1_000 === 999) await nc.flush();
    }
    await nc.flush();
    const published = performance.now();
    while ((await stored()) < before + RECORDS) {
      if (performance.now() - started > 600_000) throw new Error('not all records were stored');
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `  published in ${((published - started) / 1000).toFixed(2)} s, all stored after ${seconds.toFixed(2)} s`,
    );
    return RECORDS / seconds;
  };

  const load = () =>
    loadavg()
      .map((l) => l.toFixed(1))
      .join(' ');
  console.log(
    `observability ingestion, ${RECORDS} log records, FerretDB, batches of ${BATCH}; load average ${load()}`,
  );
  const cpu0 = cpu();
  const floorBefore = await floor(1);
  const cpu1 = cpu();
  const e2e = await endToEnd();
  const cpu2 = cpu();
  const floorAfter = await floor(2);
  // For reference only (the target compares with the one-at-a-time loop, the floor).
  const floorTwo = await floor(3, 2);
  const baseline = (floorBefore + floorAfter) / 2;
  let stats = 0;
  for (const { name } of await db.listCollections().toArray())
    if (name.startsWith('logs_')) stats += await db.collection(name).countDocuments();
  console.log(
    `  floor (bare insertMany): ${floorBefore.toFixed(0)} and ${floorAfter.toFixed(0)} records/s, mean ${baseline.toFixed(0)}`,
  );
  console.log(
    `  (for reference: two insertMany loops at once, as mongo-writer writes two batches at once: ${floorTwo.toFixed(0)} records/s)`,
  );
  console.log(
    `  end to end (NATS → stream → mongo-writer → FerretDB): ${e2e.toFixed(0)} records/s`,
  );
  console.log(`  ratio end to end / floor: ${(e2e / baseline).toFixed(2)} (target ≥ 0.7)`);
  console.log(`  (documents stored: ${stats}, one per record)`);
  const metrics = await (await fetch(metricsUrl)).text();
  const series = (name: string) =>
    Number(new RegExp(`^${name}\\{runtime="${RUNTIME}"\\} (\\S+)`, 'm').exec(metrics)?.[1] ?? 0);
  const writes = series('kre_obs_write_batch_seconds_count');
  const writing = series('kre_obs_write_batch_seconds_sum');
  console.log(
    `  mongo-writer: ${writes} batch writes, ${(RECORDS / writes).toFixed(0)} records each on average, ${writing.toFixed(2)} s writing in all`,
  );
  console.log(`  CPU during the first floor: ${cpuSpent(cpu0, cpu1)}`);
  console.log(`  CPU during end to end: ${cpuSpent(cpu1, cpu2)}`);
  console.log(`  load average at the end: ${load()}`);
  if (args.profile)
    console.log(`  CPU profile of mongo-writer: ${profileDir} (written at its exit)`);
} finally {
  await nc.drain();
  await mongo.close();
  writer.kill('SIGTERM');
  await new Promise((r) => writer.once('exit', r));
  await services.stop();
}
