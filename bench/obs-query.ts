/**
 * bench/obs-query (issue 15): admin-api's `logs` query, the newest page with a level filter, over
 * 1,000,000 stored log lines spread over 10 days, on FerretDB (its own, started here).
 * - The lines are written as mongo-writer writes them: its repository (`insertBatch`: the day
 *   collections, unordered batches, and the read index `{time: -1, _id: -1}` it makes when it
 *   first writes a day), documents in the shape its `toObsWrite` gives (one made through the real
 *   encode → decode → toObsWrite path is the template), ids from `RecordIds` at each line's time.
 *   1% ERROR, 5% WARN, 20% DEBUG, the rest INFO, evenly over the 10 days up to now.
 * - Each query is admin-api's `LogsService.page` (what the `logs` resolver calls, GraphQL and
 *   the membership check aside) over the whole 10 days, a page of 40, timed one at a time after
 *   a few unmeasured ones: p50, p99 and max in ms. Target p99 < 100 ms.
 * - FerretDB's `explain` of one day's find says what it pushes down to SQLite.
 *
 * Run: npm run build && npm run bench:obs-query -- [--lines 1000000] [--days 10] [--queries 20]
 *   [--unfiltered] [--mongo-url mongodb://…] (another database, e.g. FerretDB on PostgreSQL or
 *   MongoDB 7; its database `bench_bench-query` is dropped and written again)
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mongoose from 'mongoose';

const { values: args } = parseArgs({
  options: {
    lines: { type: 'string', default: '1000000' },
    days: { type: 'string', default: '10' },
    queries: { type: 'string', default: '20' },
    /** Another Mongo-wire database instead of a FerretDB (SQLite) of its own. */
    'mongo-url': { type: 'string' },
    /** Times the newest page without a filter too (on FerretDB a sort of the whole newest day). */
    unfiltered: { type: 'boolean', default: false },
  },
});
const LINES = Number(args.lines);
const DAYS = Number(args.days);
const QUERIES = Number(args.queries);
const RUNTIME = 'bench-query';
const PAGE = 40;
const WRITE_BATCH = 2_000;
const DAY_MS = 86_400_000;

const dist = new URL('../dist/', import.meta.url);
const load = async <T>(path: string) => (await import(new URL(path, dist).href)) as T;
const messaging = await load<{
  encodeRecord: (kind: 'logs', record: Record<string, unknown>) => Uint8Array;
  decodeRecord: (kind: 'logs', bytes: Uint8Array) => Record<string, unknown>;
  RecordIds: new (processRandom?: number, now?: () => number) => { next(): string };
}>('libs/messaging/src/index.js');
const { Names } = await load<{
  Names: new (prefix: string) => { runtimeDb(rt: string): string };
}>('libs/naming/src/index.js');
const { toObsWrite } = await load<{
  toObsWrite: (
    kind: 'logs',
    sequence: number,
    record: Record<string, unknown>,
    received: Date,
  ) => { collection: string; document: Record<string, unknown> };
}>('apps/mongo-writer/src/obs/obs-documents.js');
const { ObsRecordsRepository: WriterRepository } = await load<{
  ObsRecordsRepository: new (
    connection: unknown,
    names: unknown,
  ) => {
    insertBatch(
      runtimeId: string,
      writes: { collection: string; document: Record<string, unknown> }[],
    ): Promise<{ inserted: number }>;
  };
}>('apps/mongo-writer/src/obs/obs-records.repository.js');
const { ObsRecordsRepository: ReaderRepository } = await load<{
  ObsRecordsRepository: new (connection: unknown, names: unknown) => unknown;
}>('apps/admin-api/src/observability/obs-records.repository.js');
const { LogsService } = await load<{
  LogsService: new (
    records: unknown,
    clock: { now(): Date },
  ) => {
    page(
      runtimeId: string,
      filters: { startDate: Date; endDate?: Date; levels?: string[] },
      cursor: string | undefined,
      limit: number,
    ): Promise<{ items: { level: string; date: Date }[]; cursor: string | null }>;
  };
}>('apps/admin-api/src/observability/logs.service.js');
const { dayCollection } = await load<{ dayCollection: (kind: 'logs', time: Date) => string }>(
  'libs/observability/src/index.js',
);
const { startFerretDb } = (await import(
  new URL('../libs/testing/src/services.ts', import.meta.url).href
)) as typeof import('../libs/testing/src/services.js');

const level = (i: number) =>
  i % 100 === 0 ? 'ERROR' : i % 100 <= 5 ? 'WARN' : i % 100 <= 25 ? 'DEBUG' : 'INFO';

const dataDir = mkdtempSync(join(tmpdir(), 'kre-bench-obs-query-'));
const ferret = args['mongo-url'] ? undefined : await startFerretDb(dataDir);
const connection = await mongoose
  .createConnection(args['mongo-url'] ?? `mongodb://127.0.0.1:${ferret?.port}/`, {
    dbName: 'bench',
    retryWrites: false,
  })
  .asPromise();
const names = new Names('bench');

try {
  const end = Date.now();
  const start = end - DAYS * DAY_MS;
  const step = (DAYS * DAY_MS) / LINES;
  const origin = {
    runtimeId: RUNTIME,
    version: 'v1',
    workflow: 'wf',
    node: 'n1',
    replica: 'r1',
  };
  // The document shape mongo-writer stores, made through the real path once.
  const template = toObsWrite(
    'logs',
    1,
    messaging.decodeRecord(
      'logs',
      messaging.encodeRecord('logs', {
        id: new messaging.RecordIds().next(),
        time: new Date(start),
        origin,
        level: 'INFO',
        message: 'template',
        source: 'LOGGER',
        requestId: 'req-0',
        fields: { i: 0, ok: true },
      }),
    ),
    new Date(start),
  ).document;
  let clock = start;
  const ids = new messaging.RecordIds(7, () => clock);
  const writer = new WriterRepository(connection, names);
  const db = connection.getClient().db(names.runtimeDb(RUNTIME));
  await db.dropDatabase(); // a database given with --mongo-url: an earlier run's lines

  console.log(
    `observability query, ${LINES} log lines over ${DAYS} days (${(LINES / DAYS).toFixed(0)} a day), ${args['mongo-url'] ? args['mongo-url'] : 'FerretDB (SQLite)'}`,
  );
  const writeStarted = performance.now();
  for (let i = 0; i < LINES; i += WRITE_BATCH) {
    const writes = [];
    for (let j = i; j < Math.min(LINES, i + WRITE_BATCH); j++) {
      clock = Math.floor(start + j * step);
      const time = new Date(clock);
      writes.push({
        collection: dayCollection('logs', time),
        document: {
          ...template,
          _id: ids.next(),
          time,
          level: level(j),
          message: `request ${j} handled: label=cat score=0.93 took=12ms`,
          requestId: `req-${j % 997}`,
          fields: { i: j, ok: true },
        },
      });
    }
    await writer.insertBatch(RUNTIME, writes);
  }
  const collections = (await db.listCollections().toArray()).map((c) => c.name).sort();
  console.log(
    `  written in ${((performance.now() - writeStarted) / 1000).toFixed(0)} s into ${collections.length} day collections (${collections[0]} … ${collections.at(-1)})`,
  );
  const newestDay = collections.at(-1) ?? '';
  const indexes = (await db.collection(newestDay).indexes()).map((i) => JSON.stringify(i.key));
  console.log(`  indexes of ${newestDay}: ${indexes.join(', ')}`);

  const logs = new LogsService(new ReaderRepository(connection, names), { now: () => new Date() });
  const range = { startDate: new Date(start), endDate: new Date(end) };
  const cases: { name: string; filters: Record<string, unknown> }[] = [
    { name: 'levels [ERROR] (1%)', filters: { levels: ['ERROR'] } },
    ...(args.unfiltered ? [{ name: 'no filter', filters: {} }] : []),
  ];
  const quantile = (sorted: number[], q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  for (const { name, filters } of cases) {
    const query = () => logs.page(RUNTIME, { ...range, ...filters }, undefined, PAGE);
    for (let i = 0; i < 3; i++) await query(); // unmeasured
    const times: number[] = [];
    let page: Awaited<ReturnType<typeof query>> | undefined;
    for (let i = 0; i < QUERIES; i++) {
      const t = performance.now();
      page = await query();
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const levels = new Set(page?.items.map((l) => l.level));
    console.log(
      `  ${name}: p50 ${quantile(times, 0.5).toFixed(1)} ms, p99 ${quantile(times, 0.99).toFixed(1)} ms, max ${times.at(-1)?.toFixed(1)} ms over ${QUERIES} queries (page of ${page?.items.length}, levels ${[...levels].join('/')}, newest ${page?.items[0]?.date.toISOString()})`,
    );
  }

  // What FerretDB does with one day's find (its explain names what reached SQLite).
  const explain = (await db.command({
    explain: {
      find: newestDay,
      // As LogsService sends one level: an equality (logsQuery).
      filter: { level: 'ERROR', time: { $gte: range.startDate, $lte: range.endDate } },
      sort: { time: -1, _id: -1 },
      limit: PAGE + 1,
    },
  })) as Record<string, unknown>;
  const flags = Object.entries(explain)
    .filter(([key]) => /pushdown/i.test(key))
    .map(([key, value]) => `${key}=${String(value)}`);
  console.log(
    `  FerretDB explain of one day's find: ${flags.join(', ') || JSON.stringify(explain)}`,
  );
  const read = performance.now();
  const all = await db.collection(newestDay).find({}).toArray();
  const readMs = performance.now() - read;
  console.log(
    `  reading all of ${newestDay} (${all.length} lines, what each newest-page query does there): ${readMs.toFixed(0)} ms, ${((readMs * 1000) / all.length).toFixed(0)} µs a line`,
  );
} finally {
  await connection.close();
  await ferret?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
