import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { otlpTraceExport } from './otlp-json.js';

/**
 * `ExportResultCode` of @opentelemetry/core, whose module this file does not load: with tracing
 * off nothing of the SDK is (tracing.ts imports this file only when it is on).
 */
const SUCCESS = 0 as ExportResult['code'];
const FAILED = 1 as ExportResult['code'];

/** Where a relay exporter sends one OTLP JSON export body (a workload: a NATS publish). */
export type TraceSink = (body: Uint8Array) => void;

const encoder = new TextEncoder();

/**
 * Exports spans as OTLP/HTTP JSON bodies handed to a sink instead of an HTTP receiver: the
 * workloads' relay (docs/observability.md, "Traces"), whose sink publishes on their runtime's
 * traces subject for mongo-writer to forward. Until a sink is attached (the NATS connection is
 * made after tracing starts) an export fails and its spans are dropped, as when a receiver is
 * down. A batch larger than `maxBytes` is split; one span larger than it alone is dropped.
 */
export class RelaySpanExporter implements SpanExporter {
  private sink?: TraceSink;
  private maxBytes = 1024 * 1024;
  /** Spans handed to the sink, and spans dropped (no sink yet, or one span over `maxBytes`). */
  readonly counts = { relayed: 0, dropped: 0, bodies: 0 };

  /** From now on, export bodies go to `sink`, each at most `maxBytes` long. */
  attach(sink: TraceSink, maxBytes: number): void {
    this.sink = sink;
    this.maxBytes = maxBytes;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const sink = this.sink;
    if (!sink) {
      this.counts.dropped += spans.length;
      done({ code: FAILED, error: new Error('no trace relay attached yet') });
      return;
    }
    try {
      this.send(sink, spans);
      done({ code: SUCCESS });
    } catch (error) {
      done({
        code: FAILED,
        error: error instanceof Error ? error : new Error(String(error)),
      });
    }
  }

  private send(sink: TraceSink, spans: readonly ReadableSpan[]): void {
    if (!spans.length) return;
    const body = encoder.encode(JSON.stringify(otlpTraceExport(spans)));
    if (body.length <= this.maxBytes) {
      sink(body);
      this.counts.bodies++;
      this.counts.relayed += spans.length;
      return;
    }
    if (spans.length === 1) {
      this.counts.dropped++;
      return;
    }
    const half = Math.ceil(spans.length / 2);
    this.send(sink, spans.slice(0, half));
    this.send(sink, spans.slice(half));
  }

  shutdown(): Promise<void> {
    this.sink = undefined;
    return Promise.resolve();
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
}
