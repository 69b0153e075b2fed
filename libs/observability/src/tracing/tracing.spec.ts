import {
  type Context,
  type ProxyTracerProvider,
  type Span,
  type SpanOptions,
  type Tracer,
  type TracerProvider,
  context,
  propagation,
  trace,
} from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { OtlpJsonReceiver } from './otlp-receiver.js';
import { relayedTraceBatch } from './trace-relay.js';
import { NOOP_SPAN, initTracing, tracesUrl, tracing } from './tracing.js';

/** A tracer provider that counts the work asked of it (and does none). */
function countingProvider() {
  const counts = { getTracer: 0, startSpan: 0 };
  const noop = trace.getTracer('noop');
  const tracer: Tracer = {
    startSpan: (name: string, options?: SpanOptions, ctx?: Context): Span => {
      counts.startSpan++;
      return noop.startSpan(name, options, ctx);
    },
    startActiveSpan: () => {
      counts.startSpan++;
      throw new Error('not used');
    },
  };
  const provider: TracerProvider = {
    getTracer: () => {
      counts.getTracer++;
      return tracer;
    },
  };
  return { counts, provider };
}

/** The spans of relayed bodies as mongo-writer checks them, each with its resource's attributes. */
function relayedSpans(bodies: readonly Uint8Array[]) {
  return bodies.flatMap((body) => {
    const checked = relayedTraceBatch(body, 'alpha');
    if (!checked.ok) throw new Error(checked.detail);
    return checked.resourceSpans.flatMap((rs) =>
      rs.scopeSpans.flatMap((ss) =>
        ss.spans.map((span) => ({
          ...span,
          resource: Object.fromEntries(
            rs.resource.attributes.map((kv) => [kv.key, kv.value.stringValue]),
          ),
        })),
      ),
    );
  });
}

const PARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe(initTracing.name, () => {
  afterEach(async () => {
    await tracing().shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it('without an OTLP endpoint registers nothing and does no tracing work per span', async () => {
    const { counts, provider } = countingProvider();
    // Whatever another library registered globally, KRE's spans never reach it when off.
    trace.setGlobalTracerProvider(provider);
    const t = await initTracing('test', { OTEL_EXPORTER_OTLP_ENDPOINT: undefined });
    expect(t.enabled).toBe(false);
    // initTracing registered no provider of its own: the global one is still the one above.
    expect((trace.getTracerProvider() as ProxyTracerProvider).getDelegate()).toBe(provider);
    const spans = new Set();
    for (let i = 0; i < 10_000; i++) {
      const span = tracing().start(`work ${i}`, {
        from: { traceparent: PARENT },
        kind: 'server',
        attributes: { i },
      });
      span.setAttribute('n', i);
      span.event('step');
      span.run(() => span.fail(new Error('x')));
      span.end();
      spans.add(span);
    }
    // One shared frozen object for every span, no headers to send, and no tracer ever asked.
    expect([...spans]).toEqual([NOOP_SPAN]);
    expect(Object.isFrozen(NOOP_SPAN)).toBe(true);
    expect(NOOP_SPAN.headers).toBeUndefined();
    expect(counts).toEqual({ getTracer: 0, startSpan: 0 });
  });

  it('names the traces URL from the base endpoint or the traces one', () => {
    expect(tracesUrl({})).toBeUndefined();
    expect(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318/' })).toBe(
      'http://otel:4318/v1/traces',
    );
    expect(
      tracesUrl({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://other:9999/traces',
      }),
    ).toBe('http://other:9999/traces');
  });

  it('with an endpoint exports spans over OTLP/HTTP that continue the caller’s trace', async () => {
    const receiver = new OtlpJsonReceiver();
    const endpoint = await receiver.start();
    try {
      const t = await initTracing(
        'test-app',
        { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_SCHEDULE_DELAY: 50 },
        { 'kre.runtime': 'rt' },
      );
      expect(t.enabled).toBe(true);
      const outer = t.start('outer', { from: { traceparent: PARENT }, kind: 'server' });
      expect(outer.headers?.traceparent).toMatch(
        /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/,
      );
      await outer.run(async () => {
        await Promise.resolve();
        const inner = t.start('inner'); // the active span's child, across an await
        inner.event('step one');
        inner.fail(new Error('broken'));
        inner.end();
      });
      outer.end();
      const fresh = t.start('fresh', { from: {} }); // no parent: a new trace
      fresh.end();
      await t.shutdown(); // flushes
      expect(tracing().enabled).toBe(false);

      const byName = Object.fromEntries(receiver.spans.map((s) => [s.name, s]));
      expect(Object.keys(byName).sort()).toEqual(['fresh', 'inner', 'outer']);
      expect(byName.outer).toMatchObject({
        service: 'test-app',
        traceId: '0af7651916cd43dd8448eb211c80319c',
        parentSpanId: 'b7ad6b7169203331',
        kind: 2, // SERVER
      });
      expect(outer.headers?.traceparent).toContain(byName.outer.spanId);
      expect(byName.inner).toMatchObject({
        traceId: '0af7651916cd43dd8448eb211c80319c',
        parentSpanId: byName.outer.spanId,
        status: { code: 2, message: 'broken' },
      });
      expect(byName.inner.events.map((e) => e.name)).toContain('step one');
      expect(byName.fresh.traceId).not.toBe('0af7651916cd43dd8448eb211c80319c');
      expect(byName.fresh.parentSpanId).toBe('');
    } finally {
      await receiver.stop();
    }
  });

  it('relayed (a workload: a traces subject, no endpoint), exports OTLP JSON bodies through the attached publish, split to fit', async () => {
    const published: { subject: string; body: Uint8Array }[] = [];
    const t = await initTracing(
      'runner',
      { KRT_NATS_TRACES_SUBJECT: 'kre.alpha.traces', OTEL_BSP_SCHEDULE_DELAY: 50 },
      { 'kre.node': 'n1' },
    );
    expect(t.enabled).toBe(true);
    // The bodies must fit the server's max_payload: 3 spans of ~1 KiB each, 2.5 KiB a message.
    t.attachRelay((subject, body) => published.push({ subject, body }), 2_500);
    const outer = t.start('outer', { from: { traceparent: PARENT }, kind: 'consumer' });
    outer.run(() => {
      for (const name of ['a', 'b'])
        t.start(name, { attributes: { pad: 'x'.repeat(1_000) } }).end();
    });
    outer.setAttribute('pad', 'y'.repeat(1_000));
    outer.end();
    await t.shutdown(); // flushes through the relay

    expect(published.length).toBeGreaterThanOrEqual(2);
    expect(new Set(published.map((p) => p.subject))).toEqual(new Set(['kre.alpha.traces']));
    expect(published.every((p) => p.body.length <= 2_500)).toBe(true);
    // What mongo-writer will accept, as it will check it.
    const spans = relayedSpans(published.map((p) => p.body));
    const byName = Object.fromEntries(spans.map((span) => [span.name, span]));
    expect(Object.keys(byName).sort()).toEqual(['a', 'b', 'outer']);
    expect(byName.outer).toMatchObject({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      parentSpanId: 'b7ad6b7169203331',
      kind: 5, // CONSUMER
      resource: { 'service.name': 'runner', 'kre.node': 'n1', 'kre.runtime': 'alpha' },
    });
    expect(byName.a.parentSpanId).toBe(byName.outer.spanId);
    expect(BigInt(byName.outer.endTimeUnixNano)).toBeGreaterThanOrEqual(
      BigInt(byName.outer.startTimeUnixNano),
    );
  });

  it("one process, several services (a version's shared process): each span keeps its service, one trace across them", async () => {
    const published: Uint8Array[] = [];
    const t = await initTracing(
      ['entrypoint', 'runner'],
      { KRT_NATS_TRACES_SUBJECT: 'kre.alpha.traces', OTEL_BSP_SCHEDULE_DELAY: 50 },
      { 'kre.version': 'v1' },
    );
    t.attachRelay((_subject, body) => published.push(body), 1_000_000);
    expect(tracing()).toBe(t);
    const call = tracing('entrypoint').start('entrypoint Greet', { kind: 'server' });
    tracing('runner').start('node greet', { from: call.headers, kind: 'consumer' }).end();
    call.end();
    // A service the process does not run: the process's first.
    tracing('gateway').start('first service').end();
    await t.shutdown();
    expect(tracing().enabled).toBe(false);
    expect(tracing('runner').enabled).toBe(false);

    const spans = relayedSpans(published);
    const byName = Object.fromEntries(spans.map((span) => [span.name, span]));
    expect(byName['entrypoint Greet'].resource).toMatchObject({
      'service.name': 'entrypoint',
      'kre.version': 'v1',
    });
    expect(byName['node greet'].resource).toMatchObject({
      'service.name': 'runner',
      'kre.version': 'v1',
    });
    expect(byName['node greet']).toMatchObject({
      traceId: byName['entrypoint Greet'].traceId,
      parentSpanId: byName['entrypoint Greet'].spanId,
    });
    expect(byName['first service'].resource).toMatchObject({ 'service.name': 'entrypoint' });
  });

  it('relayed, drops (and never publishes) what ends before a publish is attached', async () => {
    const t = await initTracing('entrypoint', {
      KRT_NATS_TRACES_SUBJECT: 'kre.alpha.traces',
      OTEL_BSP_SCHEDULE_DELAY: 50,
    });
    t.start('early').end();
    await t.shutdown();
    const published: Uint8Array[] = [];
    tracing().attachRelay((_s, body) => published.push(body), 1_000_000); // disabled again: nothing
    expect(published).toEqual([]);
    expect(tracing().enabled).toBe(false);
  });
});
