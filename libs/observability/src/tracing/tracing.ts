import {
  type Attributes,
  type AttributeValue,
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  type Tracer,
  context as otelContext,
  defaultTextMapGetter,
  defaultTextMapSetter,
  trace,
} from '@opentelemetry/api';

/** W3C trace context as it travels in HTTP, gRPC metadata and NATS headers. */
export interface TraceHeaders {
  traceparent?: string;
  tracestate?: string;
}

/** The env `initTracing` reads (libs/config `baseEnv`: every app has it). */
export interface TracingEnv {
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string;
  OTEL_SERVICE_NAME?: string;
  OTEL_BSP_SCHEDULE_DELAY?: number;
  /**
   * A workload's relay (libs/config `workloadEnv`): without an OTLP endpoint, its spans are
   * exported as OTLP JSON on this NATS subject (its runtime's `<p>.<rt>.traces`), for mongo-writer
   * to forward, once `attachRelay` gives it a connection.
   */
  KRT_NATS_TRACES_SUBJECT?: string;
}

/** Publishes one message (a workload's NATS connection's `publish`). */
export type RelayPublish = (subject: string, body: Uint8Array) => void;

export type TraceSpanKind = 'server' | 'client' | 'producer' | 'consumer' | 'internal';

export interface StartSpanOptions {
  /**
   * The remote parent (a request's incoming headers): the span continues that trace, or starts a
   * new one when it carries none. Without it, the span is a child of the active one, if any.
   */
  from?: TraceHeaders;
  kind?: TraceSpanKind;
  attributes?: Attributes;
}

/** One span of work; a no-op object (shared, allocation-free) when tracing is off. */
export interface TracedSpan {
  /**
   * This span's context, to send downstream as the parent of the next process's spans;
   * `undefined` when tracing is off (callers then pass the incoming headers on unchanged).
   */
  readonly headers: TraceHeaders | undefined;
  setAttribute(key: string, value: AttributeValue): void;
  event(name: string, attributes?: Attributes): void;
  /** Marks the span failed with the error's message (and records it as an exception event). */
  fail(error: unknown): void;
  end(): void;
  /** Runs `fn` with this span active: spans started inside it (without `from`) are its children. */
  run<T>(fn: () => T): T;
}

const KINDS: Record<TraceSpanKind, SpanKind> = {
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
  internal: SpanKind.INTERNAL,
};

export const NOOP_SPAN: TracedSpan = Object.freeze({
  headers: undefined,
  setAttribute: () => undefined,
  event: () => undefined,
  fail: () => undefined,
  end: () => undefined,
  run: <T>(fn: () => T): T => fn(),
});

class RecordingSpan implements TracedSpan {
  readonly headers: TraceHeaders;
  private readonly context: Context;

  constructor(
    private readonly span: Span,
    parent: Context,
    propagator: TextMapPropagator,
  ) {
    this.context = trace.setSpan(parent, span);
    const carrier: TraceHeaders = {};
    propagator.inject(this.context, carrier, defaultTextMapSetter);
    this.headers = carrier;
  }

  setAttribute(key: string, value: AttributeValue): void {
    this.span.setAttribute(key, value);
  }

  event(name: string, attributes?: Attributes): void {
    this.span.addEvent(name, attributes);
  }

  fail(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof Error) this.span.recordException(error);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message });
  }

  end(): void {
    this.span.end();
  }

  run<T>(fn: () => T): T {
    return otelContext.with(this.context, fn);
  }
}

/** What an app starts spans with: `tracing()` returns the process's one. */
export interface Tracing {
  /** Whether spans are recorded and exported (an OTLP endpoint is set). */
  readonly enabled: boolean;
  /** Starts a span; when tracing is off, returns {@link NOOP_SPAN} and does nothing else. */
  start(name: string, options?: StartSpanOptions): TracedSpan;
  /**
   * Where the spans are relayed over NATS (`KRT_NATS_TRACES_SUBJECT`), when they are; the exports
   * go out through `publish` once it is attached, each at most `maxBytes` (the server's
   * `max_payload`). Does nothing when tracing is off or exports over HTTP.
   */
  attachRelay(publish: RelayPublish, maxBytes: number): void;
  /** Exports what is left and stops (at the app's shutdown). */
  shutdown(): Promise<void>;
}

const DISABLED: Tracing = Object.freeze({
  enabled: false,
  start: () => NOOP_SPAN,
  attachRelay: () => undefined,
  shutdown: () => Promise.resolve(),
});

class EnabledTracing implements Tracing {
  readonly enabled = true;

  constructor(
    private readonly tracer: Tracer,
    private readonly propagator: TextMapPropagator,
    private readonly stop: () => Promise<void>,
    private readonly relay?: {
      subject: string;
      attach(sink: (body: Uint8Array) => void, maxBytes: number): void;
    },
  ) {}

  attachRelay(publish: RelayPublish, maxBytes: number): void {
    const relay = this.relay;
    if (relay) relay.attach((body) => publish(relay.subject, body), maxBytes);
  }

  start(name: string, options: StartSpanOptions = {}): TracedSpan {
    const parent = options.from
      ? this.propagator.extract(ROOT_CONTEXT, options.from, defaultTextMapGetter)
      : otelContext.active();
    const span = this.tracer.startSpan(
      name,
      { kind: KINDS[options.kind ?? 'internal'], attributes: options.attributes },
      parent,
    );
    return new RecordingSpan(span, parent, this.propagator);
  }

  shutdown(): Promise<void> {
    return this.stop();
  }
}

let current: Tracing = DISABLED;
/** By service, where one process runs several (a version's shared workload process). */
let byService = new Map<string, Tracing>();

/**
 * The process's tracing: disabled (no-op spans) until `initTracing` found an endpoint. `service`:
 * that service's, where the process runs several (its spans carry that `service.name`); else, or
 * when it runs only one, the process's first.
 */
export function tracing(service?: string): Tracing {
  return (service && byService.get(service)) || current;
}

/** The OTLP/HTTP traces URL the env names, if any. */
export function tracesUrl(env: TracingEnv): string | undefined {
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT) return undefined;
  return `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
}

/**
 * Sets up the process's tracing, once, at the start of an app's main.ts. Without an OTLP endpoint
 * (or, for a workload, a relay subject) it loads nothing (the SDK is imported only when needed),
 * registers no provider, and every `tracing().start()` returns the shared no-op span. With one: a
 * tracer provider with a batch processor exporting JSON over HTTP (or, relayed, as NATS messages
 * once `attachRelay` is called), the W3C propagator, and an AsyncLocalStorage context (so spans
 * started inside `span.run()` are its children). An OTLP endpoint wins over a relay subject.
 * `service` may list several (a process that runs an entrypoint and runners): each gets a provider
 * of its own, so its spans keep their `service.name`, and `tracing(name)` starts them; the first
 * is the process's `tracing()`, and the one `OTEL_SERVICE_NAME` renames.
 */
export async function initTracing(
  service: string | readonly string[],
  env: TracingEnv,
  attributes: Attributes = {},
): Promise<Tracing> {
  const services = typeof service === 'string' ? [service] : service;
  const url = tracesUrl(env);
  const relaySubject = url ? undefined : env.KRT_NATS_TRACES_SUBJECT || undefined;
  if (!url && !relaySubject) return (current = DISABLED);
  const [sdk, resources, core, hooks] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/core'),
    import('@opentelemetry/context-async-hooks'),
  ]);
  const exporterOf = async (): Promise<{
    exporter: import('@opentelemetry/sdk-trace').SpanExporter;
    relay?: ConstructorParameters<typeof EnabledTracing>[3];
  }> => {
    if (url) {
      const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
      return { exporter: new OTLPTraceExporter({ url }) };
    }
    const { RelaySpanExporter } = await import('./relay-exporter.js');
    const relayExporter = new RelaySpanExporter();
    return {
      exporter: relayExporter,
      relay: {
        subject: relaySubject ?? '',
        attach: (sink, maxBytes) => relayExporter.attach(sink, maxBytes),
      },
    };
  };
  const propagator = new core.W3CTraceContextPropagator();
  otelContext.setGlobalContextManager(new hooks.AsyncLocalStorageContextManager().enable());
  const all: Tracing[] = [];
  byService = new Map();
  for (const [index, name] of services.entries()) {
    const { exporter, relay } = await exporterOf();
    const provider = new sdk.TracerProvider({
      resource: resources.resourceFromAttributes({
        'service.name': (index === 0 ? env.OTEL_SERVICE_NAME : undefined) ?? name,
        'service.namespace': 'kre',
        ...attributes,
      }),
      spanProcessors: [
        new sdk.BatchSpanProcessor({
          exporter,
          scheduledDelayMillis: env.OTEL_BSP_SCHEDULE_DELAY ?? 5_000,
        }),
      ],
    });
    if (index === 0) trace.setGlobalTracerProvider(provider);
    const one = new EnabledTracing(
      provider.getTracer(name),
      propagator,
      // The last export failing (a receiver down, a relay never attached) loses those spans;
      // it must not fail the app's shutdown.
      () => provider.shutdown().catch(() => undefined),
      relay,
    );
    all.push(one);
    byService.set(name, one);
  }
  current = new TracingGroup(all);
  return current;
}

/**
 * The process's tracing: its services' (one each, `initTracing`), relayed and stopped together;
 * its spans are the first service's. Once stopped, tracing is off again.
 */
class TracingGroup implements Tracing {
  readonly enabled = true;
  constructor(private readonly members: readonly Tracing[]) {}
  start(name: string, options?: StartSpanOptions): TracedSpan {
    return this.members[0].start(name, options);
  }
  attachRelay(publish: RelayPublish, maxBytes: number): void {
    for (const m of this.members) m.attachRelay(publish, maxBytes);
  }
  async shutdown(): Promise<void> {
    current = DISABLED;
    byService = new Map();
    await Promise.all(this.members.map((m) => m.shutdown()));
  }
}
