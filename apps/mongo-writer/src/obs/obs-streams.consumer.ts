import { hostname } from 'node:os';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import {
  AckPolicy,
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { type NatsConnection, nanos } from '@nats-io/transport-node';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { NATS_CONNECTION, decodeRecord, newRecordId } from '@libs/messaging';
import { dayCollection } from '@libs/observability';
import { Names } from '@libs/naming';
import { type ObsWrite, kindOfSubject, toObsWrite } from './obs-documents.js';
import { logWrite } from './log-documents.js';
import { ObsRecordsRepository } from './obs-records.repository.js';

/** Tuning of the ingestion (defaults in `DEFAULT_OBS_INGESTION`). */
export interface ObsIngestionOptions {
  /** A batch is written when it has this many records… */
  readonly batchSize: number;
  /** …or when this long has passed since the pull began (NATS: at least 1,000 ms). */
  readonly batchWaitMs: number;
  /** How often the streams are listed (new runtimes picked up, removed ones dropped). */
  readonly discoveryMs: number;
  /** Longest pause between two attempts at a failed write or a lost consumer. */
  readonly retryMaxMs: number;
  /** The consumers' ack wait: a batch unacked this long (a crashed writer) is redelivered. */
  readonly ackWaitMs: number;
  /**
   * Batches of one stream written at once (default 2): the next batch is pulled, decoded and
   * handed to the database while the previous write is still running, so the database always
   * has a write queued and works on two where it can. Each batch is acked after its own write;
   * unacked batches never exceed the consumer's `max_ack_pending` (2 batches).
   */
  readonly writeConcurrency?: number;
}

export const OBS_INGESTION_OPTIONS = Symbol('OBS_INGESTION_OPTIONS');

export const DEFAULT_OBS_INGESTION: ObsIngestionOptions = {
  batchSize: 500,
  batchWaitMs: 1_000,
  discoveryMs: 5_000,
  retryMaxMs: 5_000,
  ackWaitMs: 30_000,
  writeConcurrency: 2,
};

const RUNTIME_ID = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** One runtime's stream being ingested. */
interface StreamIngestion {
  readonly runtimeId: string;
  readonly stream: string;
  stopped: boolean;
  pull?: ConsumerMessages;
  /** Why the last write failed, until one succeeds. */
  failing?: string;
  /** Records in the stream not yet delivered, as of the last pull. */
  lag: number;
  /** The last first-time delivery it got: its consumer and stream sequences. */
  last?: { delivery: number; seq: number };
  /** Records the stream dropped before delivery that no log line has reported yet. */
  unreported: number;
  done?: Promise<void>;
}

/**
 * Reads every runtime's observability stream `<P>_<rt>_OBS` through a durable pull consumer
 * (`names.obsConsumer()`) and writes the records in batches into the runtime's database. A batch
 * is acked only once written; while the database fails nothing is acked (the records wait in the
 * stream) and `health()` reports the ingestion degraded. An undecodable message is terminated
 * and logged once, never retried.
 */
@Injectable()
export class ObsStreamsConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ObsStreamsConsumer.name);
  private readonly streams = new Map<string, StreamIngestion>();
  private readonly sleepers = new Set<() => void>();
  private jsm?: JetStreamManager;
  private js?: JetStreamClient;
  private stopping = false;
  private discovery?: Promise<void>;
  private discoveryFailure?: string;
  private invalidRecords = 0;
  private readonly metrics: ObsIngestionMetrics;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    private readonly names: Names,
    private readonly records: ObsRecordsRepository,
    @Inject(OBS_INGESTION_OPTIONS) private readonly options: ObsIngestionOptions,
    @Optional() registry: Registry = new Registry(),
  ) {
    this.metrics = obsIngestionMetrics(registry);
  }

  onApplicationBootstrap(): void {
    this.stopping = false;
    this.discovery = this.discover();
  }

  /**
   * Resolves while records flow.
   * @throws Error naming the streams whose writes fail, or the failing discovery.
   */
  health(): Promise<void> {
    const failing = [...this.streams.values()].filter((s) => s.failing);
    if (failing.length)
      return Promise.reject(
        new Error(
          `writes failing for ${failing.map((s) => `${s.runtimeId} (${s.failing})`).join(', ')}`,
        ),
      );
    if (this.discoveryFailure)
      return Promise.reject(new Error(`cannot list the streams: ${this.discoveryFailure}`));
    return Promise.resolve();
  }

  /** Counts for `/health` (no runtime names: the probe is public). */
  details(): Record<string, string> {
    let lag = 0;
    for (const s of this.streams.values()) lag += s.lag;
    return {
      streams: String(this.streams.size),
      lag: String(lag),
      invalidRecords: String(this.invalidRecords),
    };
  }

  /** Stops pulling; a batch being written is finished and acked (or handed back). */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.wakeAll();
    await this.discovery;
    await Promise.all([...this.streams.values()].map((s) => this.stop(s)));
    this.streams.clear();
  }

  private async discover(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.refresh();
        if (this.discoveryFailure) this.logger.log('listing the observability streams again');
        this.discoveryFailure = undefined;
      } catch (error) {
        const text = errorText(error);
        if (this.discoveryFailure !== text)
          this.logger.warn(`cannot list the observability streams: ${text}`);
        this.discoveryFailure = text;
      }
      await this.sleep(this.options.discoveryMs);
    }
  }

  /** Starts ingesting the streams that appeared, stops those that went away. */
  private async refresh(): Promise<void> {
    this.jsm ??= await jetstreamManager(this.nc, { checkAPI: false });
    this.js ??= jetstream(this.nc, { checkAPI: false });
    const found = new Map<string, string>();
    for await (const stream of this.jsm.streams.names(`${this.names.obsPrefix('*')}.>`)) {
      const runtimeId = this.runtimeOf(stream);
      if (runtimeId) found.set(stream, runtimeId);
    }
    if (this.stopping) return;
    for (const [stream, runtimeId] of found) {
      if (this.streams.has(stream)) continue;
      const ingestion: StreamIngestion = {
        runtimeId,
        stream,
        stopped: false,
        lag: 0,
        unreported: 0,
      };
      this.streams.set(stream, ingestion);
      ingestion.done = this.ingest(ingestion);
      this.logger.log(`ingesting ${stream} into ${this.names.runtimeDb(runtimeId)}`);
    }
    for (const ingestion of [...this.streams.values()]) {
      if (found.has(ingestion.stream)) continue;
      this.streams.delete(ingestion.stream);
      await this.stop(ingestion);
      this.metrics.lag.remove({ runtime: ingestion.runtimeId });
      this.logger.log(`stream ${ingestion.stream} is gone: no longer ingested`);
    }
  }

  /** The runtime of `<P>_<rt>_OBS`, or undefined for any other stream. */
  private runtimeOf(stream: string): string | undefined {
    const [head = '', tail = ''] = this.names.obsStream('\u0000').split('\u0000');
    if (!stream.startsWith(head) || !stream.endsWith(tail)) return undefined;
    const runtimeId = stream.slice(head.length, stream.length - tail.length);
    return RUNTIME_ID.test(runtimeId) && this.names.obsStream(runtimeId) === stream
      ? runtimeId
      : undefined;
  }

  private async stop(ingestion: StreamIngestion): Promise<void> {
    ingestion.stopped = true;
    ingestion.pull?.stop();
    this.wakeAll();
    await ingestion.done;
  }

  private async ingest(s: StreamIngestion): Promise<void> {
    let consumer: Consumer | undefined;
    let lost: string | undefined;
    let attempt = 0;
    /**
     * Batch writes under way (at most `writeConcurrency`): each acks its own records once
     * written (it retries until written, or hands its batch back on stop).
     */
    const writing = new Set<Promise<void>>();
    const concurrency = Math.max(1, this.options.writeConcurrency ?? 1);
    while (!s.stopped) {
      try {
        // A free slot first: unacked records stay within the consumer's max_ack_pending.
        while (writing.size >= concurrency) await Promise.race(writing);
        if (s.stopped) break;
        consumer ??= await this.bind(s);
        const batch = await this.pullPrepared(s, consumer);
        if (lost) this.logger.log(`consuming ${s.stream} again`);
        lost = undefined;
        attempt = 0;
        if (!batch.pulled) continue;
        const write: Promise<void> = this.store(s, batch)
          // Only acking can fail here (the connection closed): what was not acked comes back
          // after the ack wait and is skipped as already stored.
          .catch((error: unknown) =>
            this.logger.warn(`acks on ${s.stream} not sent: ${errorText(error)}`),
          )
          .finally(() => writing.delete(write));
        writing.add(write);
        // A batch that was not full: nothing waits, so the next pull would only wait for new
        // records; the write goes first (the database is kept to one partly filled batch).
        if (batch.pulled < this.options.batchSize) await write;
      } catch (error) {
        // The consumer or the stream went away, or NATS is reconnecting: bind again.
        consumer = undefined;
        const text = errorText(error);
        if (!s.stopped && lost !== text) this.logger.warn(`consumer on ${s.stream}: ${text}`);
        lost = text;
        await this.sleep(this.backoff(attempt++));
      }
    }
    // Stopped: the writes under way finish and ack, or hand their batches back at once.
    await Promise.all(writing);
  }

  /**
   * The durable consumer, created on first use (identical configs: replicas may race). The gap
   * check goes on from the consumer's last delivery, whoever got it (this process before it lost
   * the consumer, a killed predecessor, another replica): a stream that dropped records while no
   * mongo-writer read it is noticed at the first delivery after. A new consumer starts at the
   * stream's first record, so what the stream dropped before it existed is not counted.
   */
  private async bind(s: StreamIngestion): Promise<Consumer> {
    const consumer = await this.consumerOf(s);
    const { delivered } = await consumer.info(true);
    s.last = { delivery: delivered.consumer_seq, seq: delivered.stream_seq };
    return consumer;
  }

  private async consumerOf(s: StreamIngestion): Promise<Consumer> {
    const js = this.js ?? jetstream(this.nc, { checkAPI: false });
    const name = this.names.obsConsumer();
    try {
      return await js.consumers.get(s.stream, name);
    } catch {
      const jsm = this.jsm ?? (await jetstreamManager(this.nc, { checkAPI: false }));
      await jsm.consumers.add(s.stream, {
        durable_name: name,
        // The filter is what the permissions allow (`<p>.*.obs.>`): all of this runtime's records.
        filter_subject: `${this.names.obsPrefix(s.runtimeId)}.>`,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(this.options.ackWaitMs),
        max_ack_pending: this.options.batchSize * 2,
      });
      return js.consumers.get(s.stream, name);
    }
  }

  /** Up to `batchSize` messages, whatever arrived within `batchWaitMs`. */
  private async pull(s: StreamIngestion, consumer: Consumer): Promise<JsMsg[]> {
    const pull = await consumer.fetch({
      max_messages: this.options.batchSize,
      expires: Math.max(1_000, this.options.batchWaitMs),
    });
    s.pull = pull;
    const batch: JsMsg[] = [];
    try {
      for await (const m of pull) batch.push(m);
    } finally {
      s.pull = undefined;
    }
    s.lag = batch.at(-1)?.info.pending ?? 0;
    this.metrics.lag.set({ runtime: s.runtimeId }, s.lag);
    for (const m of batch) {
      if (m.info.redelivered) continue;
      // The stream holds only this runtime's records and the consumer delivers them in order:
      // two consecutive deliveries whose stream sequences are not consecutive mean the stream
      // dropped what lay between (its maximum age or size) before anyone read it. Only
      // deliveries that follow each other are compared (a lower bound with replicas, or when a
      // redelivery comes between).
      const { last } = s;
      if (last && m.info.deliverySequence === last.delivery + 1 && m.seq > last.seq + 1) {
        this.metrics.dropped.inc(
          { runtime: s.runtimeId, reason: 'stream_limit' },
          m.seq - last.seq - 1,
        );
        s.unreported += m.seq - last.seq - 1;
      }
      s.last = { delivery: m.info.deliverySequence, seq: m.seq };
    }
    return batch;
  }

  private async pullPrepared(s: StreamIngestion, consumer: Consumer): Promise<Prepared> {
    return this.prepare(s, await this.pull(s, consumer));
  }

  /** Decodes a batch; terminates what cannot be decoded. */
  private prepare(s: StreamIngestion, batch: JsMsg[]): Prepared {
    const writes: ObsWrite[] = [];
    const valid: JsMsg[] = [];
    /** Stream sequence → the document's `_id` (the record's own id, else that sequence). */
    const keys = new Map<number, string | number>();
    for (const m of batch) {
      valid.push(m);
      if (keys.has(m.seq)) continue; // delivered twice within one pull
      keys.set(m.seq, m.seq);
      try {
        const write = this.decode(s, m);
        keys.set(m.seq, write.document._id);
        writes.push(write);
      } catch (error) {
        valid.pop();
        this.invalidRecords += 1;
        this.metrics.dropped.inc({ runtime: s.runtimeId, reason: 'invalid' });
        const reason = errorText(error).slice(0, 500);
        this.logger.warn(`${s.stream} message ${m.seq} dropped (${m.subject}): ${reason}`);
        m.term(reason.slice(0, 200));
      }
    }
    return { pulled: batch.length, writes, valid, keys };
  }

  /** Writes a decoded batch until the write succeeds, then acks it. */
  private async store(s: StreamIngestion, batch: Prepared): Promise<void> {
    const { writes, valid, keys } = batch;
    const runtime = { runtime: s.runtimeId };
    // What the stream dropped is said once, in the runtime's own logs, with this batch (taken
    // from the count now, so a write running beside it does not say it again).
    const reported = s.unreported;
    s.unreported -= reported;
    if (reported > 0) writes.push(droppedNotice(s.runtimeId, reported));
    for (let attempt = 0; ; attempt++) {
      try {
        let refused: { id: string | number; reason: string }[] = [];
        if (writes.length) {
          const done = this.metrics.batchSeconds.startTimer(runtime);
          const result = await this.records.insertBatch(s.runtimeId, writes);
          done();
          refused = result.refused;
          this.metrics.stored.inc(runtime, result.inserted);
          this.metrics.duplicates.inc(runtime, result.duplicates);
        }
        if (s.failing) this.logger.log(`writing ${s.runtimeId}'s records again`);
        s.failing = undefined;
        // A document the database refuses would be refused again: dropped, never retried.
        const dropped = new Map(refused.map(({ id, reason }) => [id, reason]));
        for (const m of valid) {
          const key = keys.get(m.seq) ?? m.seq;
          const reason = dropped.get(key);
          if (reason === undefined) {
            m.ack();
            continue;
          }
          dropped.delete(key);
          this.invalidRecords += 1;
          this.metrics.dropped.inc({ ...runtime, reason: 'refused' });
          this.logger.warn(`${s.stream} message ${m.seq} refused by the database: ${reason}`);
          m.term(reason.slice(0, 200));
        }
        return;
      } catch (error) {
        this.metrics.failures.inc(runtime);
        const text = errorText(error);
        if (s.failing !== text)
          this.logger.warn(`cannot write ${s.runtimeId}'s records (kept in ${s.stream}): ${text}`);
        s.failing = text;
        if (s.stopped) {
          // Handed back at once to whichever writer runs next; the notice waits for it too.
          for (const m of valid) m.nak();
          s.unreported += reported;
          return;
        }
        // Not acked: kept, and not redelivered to another replica while this one retries.
        for (const m of valid) m.working();
        await this.sleep(this.backoff(attempt));
      }
    }
  }

  private decode(s: StreamIngestion, m: JsMsg): ObsWrite {
    const kind = kindOfSubject(m.subject);
    if (!kind) throw new Error('not a record subject');
    // Log records (most of the traffic) straight from protobuf into their document; what that
    // reader does not take (anything invalid or unusual) goes the general way below.
    const fast = kind === 'logs' ? logWrite(m.data, m.seq, s.runtimeId) : undefined;
    if (fast) return fast;
    const record = decodeRecord(kind, m.data);
    const origin = record.origin as { runtimeId?: unknown } | undefined;
    if (origin?.runtimeId !== s.runtimeId)
      throw new Error(`origin.runtimeId is not the stream's runtime "${s.runtimeId}"`);
    return toObsWrite(kind, m.seq, record, m.time);
  }

  private backoff(attempt: number): number {
    return Math.min(this.options.retryMaxMs, 200 * 2 ** attempt);
  }

  /** A pause that shutdown and stream removal cut short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  private wakeAll(): void {
    for (const wake of [...this.sleepers]) wake();
  }
}

/** A pulled batch, decoded: what to write, and what to ack once written. */
interface Prepared {
  /** Messages pulled (a full batch means more wait). */
  pulled: number;
  writes: ObsWrite[];
  /** The messages that decoded (the rest were terminated). */
  valid: JsMsg[];
  /** Stream sequence → the document's `_id` (the record's own id, else that sequence). */
  keys: Map<number, string | number>;
}

const REPLICA = `${hostname()}-${process.pid}`;

/**
 * The log line (source INGESTION, node `mongo-writer`) telling a runtime's team how many of its
 * records its observability stream dropped, past its maximum age or size, before they were stored.
 */
function droppedNotice(runtimeId: string, count: number): ObsWrite {
  const time = new Date();
  return {
    collection: dayCollection('logs', time),
    document: {
      _id: newRecordId(),
      time,
      origin: { runtimeId, version: '', workflow: '', node: 'mongo-writer', replica: REPLICA },
      level: 'WARN',
      message: `${count} record${count === 1 ? ' was' : 's were'} dropped by the runtime's observability stream before they could be stored (its maximum age or size was reached while they waited)`,
      source: 'INGESTION',
      fields: { dropped: count },
    },
  };
}

/** mongo-writer's series (docs/observability.md, "Prometheus"); label `runtime` only. */
interface ObsIngestionMetrics {
  lag: Gauge<'runtime'>;
  stored: Counter<'runtime'>;
  duplicates: Counter<'runtime'>;
  dropped: Counter<'runtime' | 'reason'>;
  failures: Counter<'runtime'>;
  batchSeconds: Histogram<'runtime'>;
}

function obsIngestionMetrics(registry: Registry): ObsIngestionMetrics {
  const registers = [registry];
  return {
    lag: new Gauge({
      name: 'kre_obs_ingestion_lag_records',
      help: "Records in the runtime's observability stream not yet delivered to mongo-writer (as of its last pull)",
      labelNames: ['runtime'],
      registers,
    }),
    stored: new Counter({
      name: 'kre_obs_records_stored_total',
      help: "Documents written into the runtime's database (its records, and mongo-writer's notices of records the stream dropped)",
      labelNames: ['runtime'],
      registers,
    }),
    duplicates: new Counter({
      name: 'kre_obs_records_duplicate_total',
      help: 'Records already stored (a redelivered batch, a record published twice): skipped',
      labelNames: ['runtime'],
      registers,
    }),
    dropped: new Counter({
      name: 'kre_obs_records_dropped_total',
      help: 'Records never stored: invalid (undecodable, another runtime), refused (by the database), stream_limit (dropped by the stream before delivery: its maximum age or size)',
      labelNames: ['runtime', 'reason'],
      registers,
    }),
    failures: new Counter({
      name: 'kre_obs_write_failures_total',
      help: 'Batch writes that failed (the database down or slow); the batch is retried',
      labelNames: ['runtime'],
      registers,
    }),
    batchSeconds: new Histogram({
      name: 'kre_obs_write_batch_seconds',
      help: "Duration of one batch's write into the runtime's database",
      labelNames: ['runtime'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
