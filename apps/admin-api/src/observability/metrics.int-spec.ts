import { Names } from '@libs/naming';
import { type ObsKind, dayCollection } from '@libs/observability';
import { MembershipsRepository } from '@libs/persistence';
import { testPrefix } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../../test/harness.js';

const METRICS = `query($r: ID!, $v: String!, $s: DateTime!, $e: DateTime) {
  metrics(runtimeId: $r, versionName: $v, startDate: $s, endDate: $e) {
    values { accuracy { total micro macro weighted } missing newLabels }
    charts { seriesSupport { x y } successVsFails { x y } }
  }
}`;
const NODE_METRICS = `query($r: ID!, $v: String!, $f: DateTime!, $t: DateTime, $b: TimeBucket) {
  nodeMetrics(runtimeId: $r, versionName: $v, from: $f, to: $t, bucket: $b) {
    workflowName nodeName
    points { date requests errors latencyP50Ms latencyP99Ms latencyMeanMs latencyMaxMs }
  }
}`;
const MEASUREMENTS = `query($r: ID!, $v: String!, $n: String!, $f: DateTime!, $t: DateTime, $b: TimeBucket, $tags: [TagInput!]) {
  measurements(runtimeId: $r, versionName: $v, name: $n, from: $f, to: $t, bucket: $b, tags: $tags) {
    date count fields { name count sum mean min max }
  }
}`;

describe('metrics, nodeMetrics and measurements', () => {
  const prefix = testPrefix();
  const names = new Names(prefix);
  let h: Harness;
  let admin: string;
  let viewer: { id: string; session: string };
  let seq = 0;

  beforeAll(async () => {
    h = await Harness.start({ KRE_PREFIX: prefix });
    admin = await h.signIn(h.adminEmail);
    viewer = await h.user('viewer', 'USER', admin);
    await h.get(MembershipsRepository).put('rt-m', viewer.id, 'VIEWER', h.clock.now());
  });
  afterAll(() => h?.close());

  /** Documents as mongo-writer stores them (docs/data.md), in the day of `time` (or `end`). */
  const seed = async (kind: ObsKind, docs: Record<string, unknown>[]) => {
    const db = h.connection().getClient().db(names.runtimeDb('rt-m'));
    for (const doc of docs) {
      const time = (kind === 'metrics' ? doc.end : doc.time) as Date;
      await db
        .collection<{ _id: number }>(dayCollection(kind, time))
        .insertOne({ _id: ++seq, ...doc });
    }
  };
  const origin = (version = 'v1', node = 'n1', replica = 'r1') => ({
    runtimeId: 'rt-m',
    version,
    workflow: 'wf',
    node,
    replica,
  });
  const gql = <T>(query: string, variables: Record<string, unknown>, session = viewer.session) =>
    h.gql<T>(query, variables, { session });

  it('computes the classification metrics from saved predictions across days, one version only', async () => {
    const p = (time: string, truth: string, predicted: string, version = 'v1') => ({
      time: new Date(time),
      origin: origin(version),
      predictedValue: predicted,
      trueValue: truth,
    });
    await seed('predictions', [
      p('2026-12-04T23:10:00Z', 'cat', 'cat'),
      p('2026-12-04T23:20:00Z', 'cat', 'dog'),
      p('2026-12-05T01:10:00Z', 'dog', 'dog'),
      { time: new Date('2026-12-05T01:20:00Z'), origin: origin(), error: 'MISSING_VALUES' },
      p('2026-12-05T01:30:00Z', 'dog', 'cat', 'v2'), // another version
      p('2026-12-07T01:30:00Z', 'dog', 'cat'), // after the range
    ]);
    const result = await gql<{ metrics: unknown }>(METRICS, {
      r: 'rt-m',
      v: 'v1',
      s: '2026-12-04T00:00:00Z',
      e: '2026-12-06T00:00:00Z',
    });
    expect(result.errors).toBeUndefined();
    // 4 predictions, 3 classified, 2 hits: cat 1/2 = 50 %, dog 1/1 = 100 %.
    expect(result.data?.metrics).toEqual({
      values: {
        accuracy: { total: 66, micro: 66, macro: 75, weighted: 66 },
        missing: 25,
        newLabels: 0,
      },
      charts: {
        seriesSupport: [
          { x: '2', y: 'cat' },
          { x: '1', y: 'dog' },
        ],
        successVsFails: [
          { x: '4 Dec 2026 23:00 UTC', y: '50' },
          { x: '5 Dec 2026 00:00 UTC', y: '' },
          { x: '5 Dec 2026 01:00 UTC', y: '100' },
        ],
      },
    });
    const none = await gql<{ metrics: unknown }>(METRICS, {
      r: 'rt-m',
      v: 'v3',
      s: '2026-12-04T00:00:00Z',
      e: '2026-12-06T00:00:00Z',
    });
    expect(none.errors).toBeUndefined();
    expect(none.data?.metrics).toBeNull();
  });

  it("sums each node's windows over replicas per bucket, with percentiles from the histograms", async () => {
    const w = (
      end: string,
      node: string,
      replica: string,
      counts: number[],
      errors: number,
      max: number,
    ) => ({
      start: new Date(Date.parse(end) - 5_000),
      end: new Date(end),
      origin: origin('v1', node, replica),
      fromNode: 'entrypoint',
      count: counts.reduce((a, b) => a + b, 0),
      errors,
      elapsedMsSum: counts.reduce((a, b) => a + b, 0) * 10,
      elapsedMsMax: max,
      bucketBoundsMs: [10, 20],
      bucketCounts: counts,
    });
    await seed('metrics', [
      w('2026-12-05T10:00:30Z', 'n1', 'r1', [6, 4, 0], 1, 18),
      w('2026-12-05T10:00:50Z', 'n1', 'r2', [4, 4, 2], 0, 30),
      w('2026-12-05T10:01:10Z', 'n1', 'r1', [1, 0, 0], 0, 3),
      w('2026-12-05T10:00:40Z', 'n2', 'r1', [2, 0, 0], 2, 9),
    ]);
    const result = await gql<{ nodeMetrics: unknown }>(NODE_METRICS, {
      r: 'rt-m',
      v: 'v1',
      f: '2026-12-05T10:00:00Z',
      t: '2026-12-05T11:00:00Z',
      b: 'MINUTE',
    });
    expect(result.errors).toBeUndefined();
    // n1 10:00: 20 requests, 10 ≤ 10 ms, 8 in (10, 20], 2 above (max 30): p50 = 10; p99: rank 19.8, 1.8 of the 2 above 20 → 20 + (30 - 20)·0.9 = 29.
    expect(result.data?.nodeMetrics).toEqual([
      {
        workflowName: 'wf',
        nodeName: 'n1',
        points: [
          {
            date: '2026-12-05T10:00:00.000Z',
            requests: 20,
            errors: 1,
            latencyP50Ms: 10,
            latencyP99Ms: 29,
            latencyMeanMs: 10,
            latencyMaxMs: 30,
          },
          {
            date: '2026-12-05T10:01:00.000Z',
            requests: 1,
            errors: 0,
            latencyP50Ms: 3,
            latencyP99Ms: 3,
            latencyMeanMs: 10,
            latencyMaxMs: 3,
          },
        ],
      },
      {
        workflowName: 'wf',
        nodeName: 'n2',
        points: [
          {
            date: '2026-12-05T10:00:00.000Z',
            requests: 2,
            errors: 2,
            latencyP50Ms: 5,
            latencyP99Ms: 9,
            latencyMeanMs: 10,
            latencyMaxMs: 9,
          },
        ],
      },
    ]);
  });

  it('aggregates a measurement per bucket, filtered by tags (dotted keys included)', async () => {
    const m = (time: string, fields: Record<string, unknown>, tags: Record<string, string>) => ({
      time: new Date(time),
      origin: origin(),
      name: 'latency',
      fields,
      tags,
    });
    await seed('measurements', [
      m('2026-12-05T10:10:00Z', { ms: 10, ok: true, note: 'x' }, { 'model\uff0ename': 'a' }),
      m('2026-12-05T10:20:00Z', { ms: 30, ok: false }, { 'model\uff0ename': 'a' }),
      m('2026-12-05T11:20:00Z', { ms: 5 }, { 'model\uff0ename': 'a' }),
      m('2026-12-05T10:30:00Z', { ms: 1000 }, { 'model\uff0ename': 'b' }),
      { ...m('2026-12-05T10:30:00Z', { ms: 1000 }, {}), name: 'other' },
    ]);
    const result = await gql<{ measurements: unknown }>(MEASUREMENTS, {
      r: 'rt-m',
      v: 'v1',
      n: 'latency',
      f: '2026-12-05T00:00:00Z',
      t: '2026-12-06T00:00:00Z',
      b: 'HOUR',
      tags: [{ key: 'model.name', value: 'a' }],
    });
    expect(result.errors).toBeUndefined();
    expect(result.data?.measurements).toEqual([
      {
        date: '2026-12-05T10:00:00.000Z',
        count: 2,
        fields: [
          { name: 'ms', count: 2, sum: 40, mean: 20, min: 10, max: 30 },
          { name: 'ok', count: 2, sum: 1, mean: 0.5, min: 0, max: 1 },
        ],
      },
      {
        date: '2026-12-05T11:00:00.000Z',
        count: 1,
        fields: [{ name: 'ms', count: 1, sum: 5, mean: 5, min: 5, max: 5 }],
      },
    ]);
  });

  it('refuses too many points and a reversed range, naming the argument', async () => {
    const tooMany = await gql(NODE_METRICS, {
      r: 'rt-m',
      v: 'v1',
      f: '2026-11-01T00:00:00Z',
      t: '2026-12-05T00:00:00Z',
      b: 'MINUTE',
    });
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      errors: [{ field: 'bucket' }],
    });
    const reversed = await gql(METRICS, {
      r: 'rt-m',
      v: 'v1',
      s: '2026-12-05T00:00:00Z',
      e: '2026-12-04T00:00:00Z',
    });
    expect(reversed.errors?.[0]?.extensions).toMatchObject({
      errors: [{ field: 'endDate', message: 'must not precede startDate' }],
    });
  });

  it('gives a member of another runtime nothing', async () => {
    const outsider = await h.user('outsider', 'USER', admin);
    await h.get(MembershipsRepository).put('rt-other', outsider.id, 'ADMIN', h.clock.now());
    const variables = {
      r: 'rt-m',
      v: 'v1',
      f: '2026-12-05T00:00:00Z',
      s: '2026-12-05T00:00:00Z',
      n: 'latency',
    };
    for (const query of [METRICS, NODE_METRICS, MEASUREMENTS]) {
      const own = Object.fromEntries(
        Object.entries(variables).filter(([k]) => query.includes(`$${k}:`)),
      );
      const result = await gql(query, own, outsider.session);
      expect(result.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
  });
});
