import { createReadStream } from 'node:fs';
import { cp, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { VersionStatus } from '@libs/core';
import { openKrt, packKrt } from '@libs/krt';
import { connectNats, planVersionResources } from '@libs/messaging';
import { Names } from '@libs/naming';
import { OtlpJsonReceiver, type ReceivedSpan } from '@libs/observability';
import { testEnv, workloadCredentials } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson } from '../data-plane/harness.js';
import { type ControlPlane } from '../deployer-harness.js';
import { startLocalEngine, type LocalEngine } from '../engine-harness.js';

/** A client's own trace context: the request's spans must continue it. */
const CLIENT_TRACE = '5bf92f3577b34da6a3ce929d0e0e4737';
const CLIENT_SPAN = '10f067aa0ba902b8';
const NODES = ['normalize', 'price', 'discount', 'finish', 'reply'];

/**
 * Traces from sandboxed workloads (#15): the deployer (root here, so each replica runs in its own
 * network namespace, from which only NATS is reachable) starts examples/mixed (JavaScript and
 * Python nodes taking turns); one call through the gateway gives one trace at a real OTLP/HTTP
 * receiver that the workloads cannot reach: the gateway's span directly, the entrypoint's and the
 * five nodes' relayed over NATS by mongo-writer, each attributed to the runtime by mongo-writer.
 */
describe('traces from isolated workloads, relayed by mongo-writer', () => {
  const env = testEnv();
  const names = new Names(env.KRE_PREFIX);
  const rt = 'relayed';
  const ver = 'mixed-v1';
  const receiver = new OtlpJsonReceiver();
  let engine: LocalEngine;
  let work: string;
  let plane: ControlPlane;
  let gatewayHttp: string;

  const owned = () => engine.owned();

  beforeAll(async () => {
    const endpoint = await receiver.start();
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_SCHEDULE_DELAY: '200' };
    engine = await startLocalEngine({
      env,
      name: 'kre-trace-relay-e2e-',
      openRuntimes: [rt],
      apps: ['deployer', 'gateway', 'mongo-writer'],
      extra: {
        deployer: { ...otel, WORKLOAD_READY_TIMEOUT_SECONDS: '120' },
        gateway: otel,
        'mongo-writer': otel,
      },
    });
    ({ work, plane, gatewayHttp } = engine);
  }, 120_000);

  afterAll(async () => {
    await engine?.close();
    await receiver.stop();
  });

  /** The spans of one trace, once `count` are in (each process exports on its own schedule). */
  async function traceOf(traceId: string, count: number): Promise<ReceivedSpan[]> {
    await expect
      .poll(() => receiver.spans.filter((s) => s.traceId === traceId).length, {
        timeout: 30_000,
        interval: 200,
      })
      .toBeGreaterThanOrEqual(count);
    return receiver.spans.filter((s) => s.traceId === traceId);
  }

  it('starts examples/mixed with every workload process in a network namespace of its own', async () => {
    await engine.createRuntime(rt, 'Relayed');
    // examples/mixed as an upload stores it (it has no config).
    const dir = join(work, 'mixed');
    await cp('examples/mixed', dir, { recursive: true });
    const krtFile = join(work, 'mixed.krt');
    await packKrt(dir, krtFile, { prefix: env.KRE_PREFIX });
    const { krt } = await openKrt(krtFile, { prefix: env.KRE_PREFIX });
    const stored = await plane.archives.save(rt, krt.version, createReadStream(krtFile));
    await plane.versions.create({
      runtimeId: rt,
      name: krt.version,
      description: krt.description,
      status: VersionStatus.CREATED,
      krt,
      config: [],
      krtSize: stored.size,
      krtChunks: stored.chunks,
      krtSha256: stored.sha256,
      createdBy: 'e2e',
    });
    await plane.versions.transition(rt, ver, [VersionStatus.CREATED], VersionStatus.STARTING);
    await plane.versionJobs.add('start', { runtimeId: rt, versionName: ver, by: 'e2e' });
    await expect
      .poll(async () => (await plane.versions.find(rt, ver))?.status, {
        timeout: 240_000,
        interval: 1_000,
      })
      .toBe(VersionStatus.STARTED);
    const pids = await owned();
    // The entrypoint with the JS nodes (normalize, discount, reply) in one shared process, and
    // each Python node (price, finish) in its own.
    expect(pids).toHaveLength(3);
    const ours = await readlink('/proc/self/ns/net');
    const theirs = await Promise.all(pids.map((pid) => readlink(`/proc/${pid}/ns/net`)));
    expect(theirs.filter((ns) => ns === ours)).toEqual([]);
  }, 300_000);

  it("one call's spans from the gateway, the entrypoint and every JS and Python node form one trace", async () => {
    const res = await postJson(
      `${gatewayHttp}/${rt}/versions/${ver}/Quote`,
      { customer: 'Ada', lines: [{ sku: 'ab-1', quantity: 2, unitCents: 1250 }] },
      { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` },
    );
    expect(res).toMatchObject({ status: 200, body: { customer: 'Ada', totalCents: 2500 } });
    const requestId = res.headers.get('kre-request-id');

    const spans = await traceOf(CLIENT_TRACE, 2 + NODES.length);
    const byName = Object.fromEntries(spans.map((s) => [s.name, s]));
    expect(Object.keys(byName).sort()).toEqual(
      ['entrypoint Quote', 'gateway Quote', ...NODES.map((n) => `node ${n}`)].sort(),
    );
    expect(spans).toHaveLength(2 + NODES.length);
    const gw = byName['gateway Quote'];
    expect(gw).toMatchObject({ service: 'gateway', parentSpanId: CLIENT_SPAN });
    const ep = byName['entrypoint Quote'];
    expect(ep).toMatchObject({ service: 'entrypoint', parentSpanId: gw.spanId });
    expect(ep.attributes).toMatchObject({ 'kre.request_id': requestId });
    // Each node's span the child of the one before it (the entrypoint's for the first).
    let parent = ep;
    for (const node of NODES) {
      const span = byName[`node ${node}`];
      expect(span).toMatchObject({ service: 'runner', parentSpanId: parent.spanId });
      expect(span.attributes).toMatchObject({ 'kre.node': node, 'kre.request_id': requestId });
      parent = span;
    }
    // Relayed by mongo-writer: each workload span's resource names the runtime, as set from the
    // NATS subject it came on.
    for (const span of spans.filter((s) => s.service !== 'gateway'))
      expect(span.resource).toMatchObject({ 'kre.runtime': rt, 'kre.version': ver });
    expect(spans.filter((s) => s.status?.code === 2)).toEqual([]);
  });

  it("a batch a workload forges, claiming another runtime, is attributed to the workload's own", async () => {
    // The version's own NATS identity, as its tenant code could use it.
    const resources = planVersionResources(names, rt, ver, []);
    const tenant = await connectNats({
      url: env.NATS_URL,
      credentials: await workloadCredentials(env, resources),
      name: 'trace-relay-tenant',
      inboxPrefix: names.workloadInboxPrefix(rt, ver),
    });
    const forgedTrace = 'f'.repeat(31) + '1';
    const claim = [
      { key: 'service.name', value: { stringValue: 'gateway' } },
      { key: 'kre.runtime', value: { stringValue: 'someone-else' } },
    ];
    tenant.publish(
      names.tracesSubject(rt),
      JSON.stringify({
        resourceSpans: [
          {
            resource: { attributes: claim },
            scopeSpans: [
              {
                scope: { name: 'forger' },
                spans: [
                  {
                    traceId: forgedTrace,
                    spanId: '1'.repeat(16),
                    name: 'gateway Quote',
                    kind: 2,
                    startTimeUnixNano: '1765000000000000000',
                    endTimeUnixNano: '1765000000100000000',
                    attributes: claim,
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    await tenant.drain();
    const [forged] = await traceOf(forgedTrace, 1);
    expect(forged.resource['kre.runtime']).toBe(rt);
    expect(forged.attributes['kre.runtime']).toBeUndefined();
  });
});
