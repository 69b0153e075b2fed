import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, planVersionResources } from '@libs/messaging';
import { Names } from '@libs/naming';
import { OtlpJsonReceiver, type ReceivedSpan } from '@libs/observability';
import { engineCredentials, testEnv, workloadCredentials } from '@libs/testing';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TRACE_RELAY, TraceRelayService } from './trace-relay.service.js';

const str = (key: string, value: string) => ({ key, value: { stringValue: value } });

/** One OTLP JSON export of one span, as a workload's exporter publishes it. */
function exportBody(traceId: string, resource: ReturnType<typeof str>[], spanAttrs = resource) {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: resource },
        scopeSpans: [
          {
            scope: { name: 'runner' },
            spans: [
              {
                traceId,
                spanId: '00f067aa0ba902b7',
                name: 'node n1',
                kind: 5,
                startTimeUnixNano: '1765000000000000000',
                endTimeUnixNano: '1765000000100000000',
                attributes: spanAttrs,
              },
            ],
          },
        ],
      },
    ],
  });
}

const trace = (n: number) => n.toString(16).padStart(32, 'a');
/** The relay's byte limit here: under the NATS server's max_payload, so NATS carries more. */
const LIMIT = 64 * 1024;

/**
 * The relay in mongo-writer against real NATS with the production identities: a workload of
 * runtime "alpha" (its version's minted permissions) publishes, mongo-writer (its own identity)
 * forwards to a real OTLP/HTTP receiver.
 */
describe(TraceRelayService.name, () => {
  const env = testEnv();
  const names = new Names(env.KRE_PREFIX);
  const receiver = new OtlpJsonReceiver();
  const registry = new Registry();
  let writer: NatsConnection;
  let workload: NatsConnection;
  let sut: TraceRelayService;

  beforeAll(async () => {
    const url = `${await receiver.start()}/v1/traces`;
    writer = await connectNats({
      url: env.NATS_URL,
      credentials: await engineCredentials(env, 'mongo-writer'),
      name: 'int-trace-relay-writer',
      inboxPrefix: names.engineInboxPrefix('mongo-writer'),
    });
    const resources = planVersionResources(names, 'alpha', 'v1', []);
    workload = await connectNats({
      url: env.NATS_URL,
      credentials: await workloadCredentials(env, resources),
      name: 'int-trace-relay-workload',
      inboxPrefix: names.workloadInboxPrefix('alpha', 'v1'),
    });
    sut = new TraceRelayService(
      writer,
      names,
      {
        ...DEFAULT_TRACE_RELAY,
        url,
        flushMs: 50,
        limits: { ...DEFAULT_TRACE_RELAY.limits, maxBytes: LIMIT },
      },
      registry,
    );
    sut.onApplicationBootstrap();
    await writer.flush(); // the subscription is registered before anything is published
  });

  afterAll(async () => {
    await sut.beforeApplicationShutdown();
    await workload.drain();
    await writer.drain();
    await receiver.stop();
  });

  /** Published after the rest: once its span is in, whatever came before was handled. */
  async function barrier(n: number): Promise<ReceivedSpan[]> {
    workload.publish(
      names.tracesSubject('alpha'),
      exportBody(trace(n), [str('service.name', 'runner')]),
    );
    await expect
      .poll(() => receiver.spans.some((s) => s.traceId === trace(n)), { timeout: 10_000 })
      .toBe(true);
    return receiver.spans;
  }

  async function counter(name: string, labels: Record<string, string>): Promise<number> {
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
    const value = (metric?.values ?? []).find((v) =>
      Object.entries(labels).every(([k, l]) => v.labels[k] === l),
    );
    return value?.value ?? 0;
  }

  it("forwards a workload's spans with its runtime, and a batch claiming another runtime as its own", async () => {
    workload.publish(
      names.tracesSubject('alpha'),
      exportBody(trace(1), [str('service.name', 'gateway'), str('kre.runtime', 'beta')]),
    );
    const spans = await barrier(2);
    const forged = spans.filter((s) => s.traceId === trace(1));
    expect(forged).toHaveLength(1);
    // The span's own claim is gone; its resource names the runtime of the subject.
    expect(forged[0].attributes['kre.runtime']).toBeUndefined();
    expect(forged[0].resource).toEqual({ 'service.name': 'gateway', 'kre.runtime': 'alpha' });
    expect(spans.filter((s) => s.resource['kre.runtime'] !== 'alpha')).toEqual([]);
    expect(await counter('kre_trace_relay_spans_forwarded_total', { runtime: 'alpha' })).toBe(2);
  });

  it("cannot publish on another runtime's traces subject (its NATS permissions)", async () => {
    const errors: string[] = [];
    void (async () => {
      for await (const status of workload.status())
        if (status.type === 'error') errors.push(String(status.error));
    })();
    workload.publish(names.tracesSubject('beta'), exportBody(trace(3), [str('service.name', 'x')]));
    const spans = await barrier(4);
    expect(spans.filter((s) => s.traceId === trace(3))).toEqual([]);
    await expect
      .poll(() => errors.join('\n'), { timeout: 5_000 })
      .toMatch(/permissions violation.*traces/i);
  });

  it('drops and counts a malformed or oversized message, and forwards the next one', async () => {
    const before = await counter('kre_trace_relay_batches_dropped_total', {
      runtime: 'alpha',
      reason: 'malformed',
    });
    workload.publish(
      names.tracesSubject('alpha'),
      '{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 1}]}]}]}',
    );
    workload.publish(names.tracesSubject('alpha'), 'not json');
    workload.publish(
      names.tracesSubject('alpha'),
      exportBody(trace(5), [str('pad', 'x'.repeat(LIMIT))]),
    );
    const spans = await barrier(6);
    expect(spans.filter((s) => s.traceId === trace(5))).toEqual([]);
    expect(
      await counter('kre_trace_relay_batches_dropped_total', {
        runtime: 'alpha',
        reason: 'malformed',
      }),
    ).toBe(before + 2);
    expect(
      await counter('kre_trace_relay_batches_dropped_total', {
        runtime: 'alpha',
        reason: 'too_large',
      }),
    ).toBe(1);
  });
});
