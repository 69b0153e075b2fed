import { fileURLToPath } from 'node:url';
import { OtlpJsonReceiver, type ReceivedSpan } from '@libs/observability';
import { testEnv, waitForHttp } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPythonRunner } from '../conformance/python-runner.js';
import { DataPlane, type Endpoint, type VersionSpec, postJson } from '../data-plane/harness.js';

const krtDir = fileURLToPath(new URL('./fixtures/krt', import.meta.url));
const spec: VersionSpec = {
  runtimeId: 'traced',
  version: 'v1',
  krtDir,
  proto: 'trace.proto',
  workflows: [
    {
      name: 'flow',
      rpc: 'Trace',
      exitpoint: 'last',
      nodes: [
        { name: 'first', src: 'src/first.mjs', subscriptions: [{ node: 'entrypoint' }] },
        { name: 'last', src: 'src/last.py', subscriptions: [{ node: 'first' }] },
      ],
    },
  ],
};

/** A client's own trace context: the request's spans must continue it. */
const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';

describe('OpenTelemetry traces across processes: gateway → entrypoint → JS node → Python node', () => {
  const env = testEnv();
  const dp = new DataPlane(env);
  const receiver = new OtlpJsonReceiver();
  let gateway: Endpoint;

  beforeAll(async () => {
    const endpoint = await receiver.start();
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_SCHEDULE_DELAY: '100' };
    await dp.connect();
    const p = await dp.provision(spec);
    const pythonEnv = await dp.runnerEnv(p, 'flow', 'last', otel);
    const python = dp.track(await runPythonRunner(pythonEnv));
    const [, entrypoint, gw] = await Promise.all([
      dp.startRunner(p, 'flow', 'first', otel),
      dp.startEntrypoint(p, otel),
      dp.startGateway(otel),
      waitForHttp(`http://127.0.0.1:${pythonEnv.KRT_HEALTH_PORT}/readyz`, python, 120_000),
    ]);
    gateway = gw;
    await dp.route('traced', 'v1', entrypoint);
  }, 180_000);

  afterAll(async () => {
    await dp.close();
    await receiver.stop();
  });

  it("one request's spans form one trace, each process's span the child of the one before", async () => {
    const res = await postJson(
      `http://${gateway.http}/traced/Trace`,
      { text: 'hi' },
      { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` },
    );
    expect(res).toMatchObject({ status: 200, body: { text: 'hi', path: ['first', 'last'] } });
    const requestId = res.headers.get('kre-request-id');

    // Each process exports on its own schedule: wait until all four spans are in.
    const deadline = Date.now() + 30_000;
    let spans: ReceivedSpan[] = [];
    while (Date.now() < deadline) {
      spans = receiver.spans.filter((s) => s.traceId === CLIENT_TRACE);
      if (spans.length >= 4) break;
      await new Promise((done) => setTimeout(done, 100));
    }
    const byName = Object.fromEntries(spans.map((s) => [s.name, s]));
    expect(Object.keys(byName).sort()).toEqual([
      'entrypoint Trace',
      'gateway Trace',
      'node first',
      'node last',
    ]);
    const gw = byName['gateway Trace'];
    const ep = byName['entrypoint Trace'];
    const first = byName['node first'];
    const last = byName['node last'];
    expect(gw).toMatchObject({ service: 'gateway', parentSpanId: CLIENT_SPAN });
    expect(gw.attributes).toMatchObject({ 'kre.runtime': 'traced', 'kre.version': 'v1' });
    expect(ep).toMatchObject({ service: 'entrypoint', parentSpanId: gw.spanId });
    expect(ep.attributes).toMatchObject({ 'kre.request_id': requestId });
    expect(first).toMatchObject({ service: 'runner', parentSpanId: ep.spanId });
    expect(first.attributes).toMatchObject({ 'kre.node': 'first', 'kre.from_node': 'entrypoint' });
    expect(last).toMatchObject({ service: 'runner', parentSpanId: first.spanId });
    expect(last.attributes).toMatchObject({
      'kre.node': 'last',
      'kre.from_node': 'first',
      'kre.request_id': requestId,
    });
    // Four processes, four distinct spans, none failed.
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(4);
    expect(spans.filter((s) => s.status?.code === 2)).toEqual([]);
  });

  it("a failing node's span, the entrypoint's and the gateway's are marked failed; without a client context the gateway starts the trace", async () => {
    const res = await postJson(`http://${gateway.http}/traced/Trace`, { text: 'fail' });
    expect(res).toMatchObject({ status: 500, body: { code: 'INTERNAL' } });
    const requestId = res.headers.get('kre-request-id');

    const deadline = Date.now() + 30_000;
    let spans: ReceivedSpan[] = [];
    while (Date.now() < deadline) {
      const ep = receiver.spans.find((s) => s.attributes['kre.request_id'] === requestId);
      spans = ep ? receiver.spans.filter((s) => s.traceId === ep.traceId) : [];
      if (spans.length >= 4) break;
      await new Promise((done) => setTimeout(done, 100));
    }
    const byName = Object.fromEntries(spans.map((s) => [s.name, s]));
    expect(byName['gateway Trace']).toMatchObject({ parentSpanId: '', status: { code: 2 } });
    expect(byName['entrypoint Trace'].status).toMatchObject({ code: 2 });
    expect(byName['entrypoint Trace'].status?.message).toContain('asked to fail');
    expect(byName['node first'].status?.code ?? 0).not.toBe(2);
    expect(byName['node last'].status).toMatchObject({ code: 2 });
    expect(byName['node last'].status?.message).toContain('asked to fail');
  });
});
