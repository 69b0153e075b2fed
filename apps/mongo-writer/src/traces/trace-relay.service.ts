import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { Counter, Registry } from 'prom-client';
import { NATS_CONNECTION } from '@libs/messaging';
import { Names } from '@libs/naming';
import {
  DEFAULT_TRACE_RELAY_LIMITS,
  type OtlpResourceSpans,
  type TraceRelayLimits,
  relayedTraceBatch,
} from '@libs/observability';

/** Where and how the workloads' spans are forwarded (`TraceRelayModule.forRoot`). */
export interface TraceRelayOptions {
  /** The OTLP/HTTP traces URL (`tracesUrl` of mongo-writer's env). */
  readonly url: string;
  /** Milliseconds between two forwards (OTEL_BSP_SCHEDULE_DELAY). */
  readonly flushMs: number;
  /** Spans per export request: more waiting are forwarded at once, in requests of this size. */
  readonly maxExportSpans: number;
  /** Spans one runtime may have waiting; past it its batches are dropped (one noisy runtime cannot crowd out the rest). */
  readonly maxPendingPerRuntime: number;
  /** Spans waiting in all; past it batches are dropped. */
  readonly maxPending: number;
  /** A receiver that does not answer within this is given up on (the spans are dropped). */
  readonly exportTimeoutMs: number;
  readonly limits: TraceRelayLimits;
}

export const TRACE_RELAY_OPTIONS = Symbol('TRACE_RELAY_OPTIONS');

export const DEFAULT_TRACE_RELAY: Omit<TraceRelayOptions, 'url'> = {
  flushMs: 5_000,
  maxExportSpans: 512,
  maxPendingPerRuntime: 2_048,
  maxPending: 16_384,
  exportTimeoutMs: 10_000,
  limits: DEFAULT_TRACE_RELAY_LIMITS,
};

const RUNTIME_ID = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** At most one log line a minute per runtime about its refused messages. */
const WARN_EVERY_MS = 60_000;

interface Pending {
  runtimeId: string;
  resourceSpans: OtlpResourceSpans[];
  spans: number;
}

/**
 * Forwards the spans the runtimes' workloads relay over NATS (`<p>.<rt>.traces`, core NATS,
 * one queue group across mongo-writer replicas) to the installation's OTLP/HTTP endpoint, which
 * workloads cannot reach (docs/observability.md, "Traces"). What a workload publishes is tenant
 * input: each message is size-checked, parsed and rebuilt as OTLP JSON with its runtime forced
 * from the subject (`relayedTraceBatch`); a refused one is dropped and counted. Best effort, as
 * any span export: spans waiting past the bounds, or refused by the receiver, are dropped and
 * counted, never retried, and nothing waits for them.
 */
@Injectable()
export class TraceRelayService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(TraceRelayService.name);
  private subscription?: Subscription;
  private pending: Pending[] = [];
  private pendingSpans = 0;
  private readonly perRuntime = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private failing?: string;
  /** When a refused message of each runtime was last logged. */
  private readonly warned = new Map<string, number>();
  private readonly metrics: TraceRelayMetrics;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    private readonly names: Names,
    @Inject(TRACE_RELAY_OPTIONS) private readonly options: TraceRelayOptions,
    @Optional() registry: Registry = new Registry(),
  ) {
    this.metrics = traceRelayMetrics(registry);
  }

  onApplicationBootstrap(): void {
    this.subscription = this.nc.subscribe(this.names.tracesSubject('*'), {
      queue: this.names.tracesQueue(),
      callback: (error, msg) => {
        if (!error) this.take(msg);
      },
    });
    this.timer = setInterval(() => void this.flush(), this.options.flushMs);
    this.timer.unref();
    this.logger.log(`forwarding the workloads' spans to ${this.options.url}`);
  }

  /** Takes no more, then forwards what waits. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.subscription?.drain().catch(() => undefined);
    await this.flush();
  }

  /** One relayed message: checked, and queued for the next forward. */
  take(msg: Pick<Msg, 'subject' | 'data'>): void {
    const runtimeId = this.runtimeOf(msg.subject);
    if (!runtimeId) return; // not a traces subject of this installation (no label for it)
    const result = relayedTraceBatch(msg.data, runtimeId, this.options.limits);
    if (!result.ok) {
      this.metrics.batchesDropped.inc({ runtime: runtimeId, reason: result.reason });
      // Tenant input: a flood of bad messages must not flood the log (the metric counts them all).
      const now = Date.now();
      if (now - (this.warned.get(runtimeId) ?? -Infinity) < WARN_EVERY_MS) return;
      this.warned.set(runtimeId, now);
      this.logger.warn(
        `spans relayed by runtime "${runtimeId}" dropped: ${result.detail.slice(0, 300)}`,
      );
      return;
    }
    if (!result.spans) return;
    const mine = this.perRuntime.get(runtimeId) ?? 0;
    if (
      mine + result.spans > this.options.maxPendingPerRuntime ||
      this.pendingSpans + result.spans > this.options.maxPending
    ) {
      this.metrics.batchesDropped.inc({ runtime: runtimeId, reason: 'queue_full' });
      this.metrics.spansDropped.inc({ runtime: runtimeId, reason: 'queue_full' }, result.spans);
      return;
    }
    this.metrics.spansReceived.inc({ runtime: runtimeId }, result.spans);
    this.pending.push({ runtimeId, resourceSpans: result.resourceSpans, spans: result.spans });
    this.pendingSpans += result.spans;
    this.perRuntime.set(runtimeId, mine + result.spans);
    if (this.pendingSpans >= this.options.maxExportSpans) void this.flush();
  }

  /** Forwards every span waiting, one export request after the other. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.forwardAll());
    return this.flushing;
  }

  private async forwardAll(): Promise<void> {
    while (this.pending.length) {
      const batch: Pending[] = [];
      let spans = 0;
      // At least one message a request (a message holds at most `limits.maxSpans`).
      for (const next of this.pending) {
        if (spans > 0 && spans + next.spans > this.options.maxExportSpans) break;
        batch.push(next);
        spans += next.spans;
      }
      this.pending = this.pending.slice(batch.length);
      this.pendingSpans -= spans;
      for (const p of batch) {
        const left = (this.perRuntime.get(p.runtimeId) ?? 0) - p.spans;
        if (left > 0) this.perRuntime.set(p.runtimeId, left);
        else this.perRuntime.delete(p.runtimeId);
      }
      await this.forward(batch);
    }
  }

  private async forward(batch: Pending[]): Promise<void> {
    const body = JSON.stringify({ resourceSpans: batch.flatMap((p) => p.resourceSpans) });
    try {
      const response = await fetch(this.options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(this.options.exportTimeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) throw new Error(`the receiver answered ${response.status}`);
      for (const p of batch) this.metrics.spansForwarded.inc({ runtime: p.runtimeId }, p.spans);
      if (this.failing) this.logger.log(`forwarding spans to ${this.options.url} again`);
      this.failing = undefined;
    } catch (error) {
      for (const p of batch)
        this.metrics.spansDropped.inc({ runtime: p.runtimeId, reason: 'export_failed' }, p.spans);
      const text = error instanceof Error ? error.message : String(error);
      if (this.failing !== text)
        this.logger.warn(`cannot forward spans to ${this.options.url} (dropped): ${text}`);
      this.failing = text;
    }
  }

  /** The runtime of `<p>.<rt>.traces`: the one the publisher's NATS permissions allow. */
  private runtimeOf(subject: string): string | undefined {
    const [head = '', tail = ''] = this.names.tracesSubject('\u0000').split('\u0000');
    if (!subject.startsWith(head) || !subject.endsWith(tail)) return undefined;
    const runtimeId = subject.slice(head.length, subject.length - tail.length);
    return RUNTIME_ID.test(runtimeId) && this.names.tracesSubject(runtimeId) === subject
      ? runtimeId
      : undefined;
  }
}

/** The relay's series (docs/observability.md, "Prometheus"); label `runtime` (and `reason`) only. */
interface TraceRelayMetrics {
  spansReceived: Counter<'runtime'>;
  spansForwarded: Counter<'runtime'>;
  spansDropped: Counter<'runtime' | 'reason'>;
  batchesDropped: Counter<'runtime' | 'reason'>;
}

function traceRelayMetrics(registry: Registry): TraceRelayMetrics {
  const registers = [registry];
  return {
    spansReceived: new Counter({
      name: 'kre_trace_relay_spans_received_total',
      help: "Spans of the runtime's workloads taken from NATS to be forwarded",
      labelNames: ['runtime'],
      registers,
    }),
    spansForwarded: new Counter({
      name: 'kre_trace_relay_spans_forwarded_total',
      help: 'Spans forwarded to the OTLP endpoint (the receiver accepted them)',
      labelNames: ['runtime'],
      registers,
    }),
    spansDropped: new Counter({
      name: 'kre_trace_relay_spans_dropped_total',
      help: 'Checked spans never forwarded: queue_full (too many waiting), export_failed (the receiver refused them or did not answer)',
      labelNames: ['runtime', 'reason'],
      registers,
    }),
    batchesDropped: new Counter({
      name: 'kre_trace_relay_batches_dropped_total',
      help: 'Relayed messages refused whole: malformed (not OTLP JSON as KRE exports it), too_large (over the byte or span limit), queue_full',
      labelNames: ['runtime', 'reason'],
      registers,
    }),
  };
}
