import { WorkloadLogger } from '@libs/observability/workload';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  type JsonValue,
  type LogLevel,
  type LogSource,
  type MeasurementInput,
  type Origin,
  type PredictionInput,
  type RecordKind,
  encodeRecord,
  newRecordId,
  payloadLimit,
} from '@libs/messaging/workload';
import { LogRecordEncoder } from './log-record.encoder.js';
import { runAsRunner } from './stdio.capture.js';

/** Upper bounds (ms) of the handler-time histogram in node metrics. */
export const METRIC_BUCKETS_MS: readonly number[] = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000,
];
const MAX_LOG_MESSAGE = 16 * 1024;
/** Log calls held for the next flush at most; past it, lines are counted and dropped. */
const MAX_PENDING_LOGS = 100_000;
/** Log records published per turn of the event loop: a long flush lets timers and I/O in between. */
const FLUSH_CHUNK = 256;

interface LogOptions {
  source: LogSource;
  requestId?: string;
  fields?: Record<string, JsonValue>;
  /** Also a JSON line on the runner's stdout (`ctx.logger`'s echo), naming this node. */
  echo?: { node: string; level: string };
}

interface PendingLog {
  level: LogLevel;
  message: string;
  time: number;
  options: LogOptions;
}

interface MetricWindow {
  count: number;
  errors: number;
  sum: number;
  max: number;
  buckets: number[];
}

/**
 * Publishes this replica's observability records on `<p>.<rt>.obs.*` (KRT_NATS_OBS_PREFIX):
 * logs and metrics as core NATS messages (fire and forget: the stream stores them; a handler
 * never waits for its logs), predictions and measurements through JetStream (the handler's
 * `save` resolves once stored). A log call only queues the line (its time taken then): the
 * records are masked, encoded and published, and the stdout echoes written in one write, by one
 * flush per turn of the event loop (`setImmediate`), so a handler that logs in a loop pays
 * for none of that in the loop (bench:logging). Every record carries a fresh producer-made id (`newRecordId`), the
 * key mongo-writer stores it under, so a redelivered record is stored once.
 */
export class ObsPublisher {
  private readonly logger = new WorkloadLogger(ObsPublisher.name);
  private windows = new Map<string, MetricWindow>();
  private windowStart = new Date();
  private readonly timer: NodeJS.Timeout;
  private pendingLogs: PendingLog[] = [];
  private flushScheduled = false;
  private droppedLogs = 0;
  private readonly logEncoder: LogRecordEncoder;

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly prefix: string,
    readonly origin: Origin,
    metricsIntervalMs = 5_000,
    /** Masks the version's config values in log records (VIEWERs read logs, not config). */
    private readonly masker: { mask(text: string): string } = { mask: (text) => text },
    /** Where `echo` lines go (the real stdout, bypassing the capture of user output). */
    private readonly stdout: (text: string) => void = () => undefined,
  ) {
    this.logEncoder = new LogRecordEncoder(origin);
    this.timer = setInterval(() => this.flushMetrics(), metricsIntervalMs);
    this.timer.unref();
  }

  private subject(kind: RecordKind): string {
    return `${this.prefix}.${kind}`;
  }

  /** A log record, queued for the next flush; never throws (a broken log must not break a handler). */
  log(level: LogLevel, message: string, options: LogOptions): void {
    if (this.nc.isClosed()) return;
    if (this.pendingLogs.length >= MAX_PENDING_LOGS) {
      this.droppedLogs++;
      return;
    }
    this.pendingLogs.push({ level, message, time: Date.now(), options });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Outside the handler's scope: what the flush writes is never taken for user output.
      runAsRunner(() => setImmediate(this.flushLogs));
    }
  }

  /**
   * Publishes the queued log records and writes their stdout echoes at once, FLUSH_CHUNK records
   * per turn of the event loop (`all`: every one now, at close).
   */
  readonly flushLogs = (all = false): void => {
    this.flushScheduled = false;
    let batch = this.pendingLogs;
    this.pendingLogs = [];
    if (!all && batch.length > FLUSH_CHUNK) {
      this.pendingLogs = batch.slice(FLUSH_CHUNK).concat(this.pendingLogs);
      batch = batch.slice(0, FLUSH_CHUNK);
      this.flushScheduled = true;
      runAsRunner(() => setImmediate(this.flushLogs));
    }
    let echo = '';
    for (const { level, message, time, options } of batch) {
      this.publishLog(level, message, new Date(time), options);
      if (options.echo)
        echo += `${JSON.stringify({ level: options.echo.level, node: options.echo.node, requestId: options.requestId, message, ...(options.fields ? { fields: options.fields } : {}) })}\n`;
    }
    if (echo) this.stdout(echo);
    if (this.droppedLogs) {
      const dropped = this.droppedLogs;
      this.droppedLogs = 0;
      this.publishLog(
        'WARN',
        `${dropped} log line(s) dropped: more than ${MAX_PENDING_LOGS} were logged within one turn of the event loop`,
        new Date(),
        { source: 'RUNNER' },
      );
    }
  };

  private publishLog(level: LogLevel, message: string, time: Date, options: LogOptions): void {
    if (this.nc.isClosed() || !message.trim()) return;
    const full = this.masker.mask(message);
    const text =
      full.length > MAX_LOG_MESSAGE ? `${full.slice(0, MAX_LOG_MESSAGE)}… (truncated)` : full;
    try {
      const bytes = options.fields
        ? encodeRecord('logs', {
            id: newRecordId(),
            time,
            origin: this.origin,
            level,
            message: text,
            source: options.source,
            ...(options.requestId ? { requestId: options.requestId } : {}),
            fields: maskJson(options.fields, this.masker),
          })
        : this.logEncoder.encode({
            id: newRecordId(),
            time: time.getTime(),
            level,
            message: text,
            source: options.source,
            requestId: options.requestId,
          });
      if (bytes.length > payloadLimit(this.nc.info?.max_payload ?? 1024 * 1024)) {
        this.publishLog(level, text.slice(0, 1024), time, { ...options, fields: undefined });
        return;
      }
      this.nc.publish(this.subject('logs'), bytes);
    } catch (error) {
      this.logger.warn(
        `log record dropped: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  /** Stores a prediction; resolves once the observability stream has it. */
  async prediction(input: Omit<PredictionInput, 'origin'>): Promise<void> {
    await this.store(
      'predictions',
      encodeRecord('predictions', { ...input, id: newRecordId(), origin: this.origin }),
    );
  }

  /** Stores a measurement; resolves once the observability stream has it. */
  async measurement(input: Omit<MeasurementInput, 'origin'>): Promise<void> {
    await this.store(
      'measurements',
      encodeRecord('measurements', { ...input, id: newRecordId(), origin: this.origin }),
    );
  }

  private async store(kind: RecordKind, bytes: Uint8Array): Promise<void> {
    try {
      await this.js.publish(this.subject(kind), bytes, { timeout: 5_000 });
    } catch (error) {
      throw new Error(
        `cannot store the ${kind.slice(0, -1)} on ${this.subject(kind)} (the runtime's observability stream): ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }

  /** Counts one handler run in the current metric window. */
  metric(fromNode: string, elapsedMs: number, failed: boolean): void {
    let w = this.windows.get(fromNode);
    if (!w) {
      w = {
        count: 0,
        errors: 0,
        sum: 0,
        max: 0,
        buckets: new Array<number>(METRIC_BUCKETS_MS.length + 1).fill(0),
      };
      this.windows.set(fromNode, w);
    }
    w.count++;
    if (failed) w.errors++;
    w.sum += elapsedMs;
    w.max = Math.max(w.max, elapsedMs);
    const i = METRIC_BUCKETS_MS.findIndex((bound) => elapsedMs <= bound);
    w.buckets[i === -1 ? METRIC_BUCKETS_MS.length : i]++;
  }

  /** Publishes one NodeMetric per input node for the window that ends now. */
  flushMetrics(): void {
    const start = this.windowStart;
    const end = new Date();
    const windows = this.windows;
    this.windows = new Map();
    this.windowStart = end;
    if (this.nc.isClosed()) return;
    for (const [fromNode, w] of windows) {
      try {
        const bytes = encodeRecord('metrics', {
          id: newRecordId(),
          start,
          end,
          origin: this.origin,
          fromNode,
          count: w.count,
          errors: w.errors,
          elapsedMsSum: w.sum,
          elapsedMsMax: w.max,
          bucketBoundsMs: METRIC_BUCKETS_MS,
          bucketCounts: w.buckets,
        });
        this.nc.publish(this.subject('metrics'), bytes);
      } catch (error) {
        this.logger.warn(
          `metric dropped: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
  }

  /** Last logs and metrics out, then stop the timer. */
  close(): void {
    clearInterval(this.timer);
    this.flushLogs(true);
    this.flushMetrics();
  }
}

/** `value` with every string in it masked. */
function maskJson<T extends JsonValue>(value: T, masker: { mask(text: string): string }): T {
  if (typeof value === 'string') return masker.mask(value) as T;
  if (Array.isArray(value)) return value.map((item) => maskJson(item, masker)) as T;
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, maskJson(item, masker)]),
    ) as T;
  return value;
}
