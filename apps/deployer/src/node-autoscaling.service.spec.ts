import { NO_USAGE, quotaExcesses, type RuntimeQuota } from '@libs/core';
import type { Krt } from '@libs/krt';
import { describe, expect, it } from 'vitest';
import { capScaleUps } from './node-autoscaling.service.js';
import { krtWithReplicas, minReplicasOf } from './version-planner.service.js';

describe(capScaleUps.name, () => {
  const quota: RuntimeQuota = {
    replicas: 6,
    memoryBytes: 1e12,
    cpuMillis: 1e9,
    gpus: 0,
    storageBytes: 1e15,
    obsBytes: 2 ** 30,
    obsMaxAgeMs: 604_800_000,
  };
  /** Over the quota when the replicas counted (plus 2 held elsewhere) pass 6. */
  const overFor = (counts: Record<string, number>) => () =>
    quotaExcesses(
      quota,
      { ...NO_USAGE, replicas: 2 },
      { ...NO_USAGE, replicas: Object.values(counts).reduce((a, b) => a + b, 0) },
    );

  it('lowers a scale-up to what fits, says why, and never below where it was', () => {
    const counts = { 'wf.a': 3, 'wf.b': 1 };
    const capped = capScaleUps(counts, [{ workloadId: 'wf.a', from: 1 }], overFor(counts));
    expect(counts).toEqual({ 'wf.a': 3, 'wf.b': 1 });
    expect(capped.size).toBe(0);

    const more = { 'wf.a': 5, 'wf.b': 1 };
    const why = capScaleUps(more, [{ workloadId: 'wf.a', from: 1 }], overFor(more));
    expect(more).toEqual({ 'wf.a': 3, 'wf.b': 1 });
    expect(why.get('wf.a')).toMatch(
      /^replicas: this version needs 6, .* the quota is 6 \(2 over\)/,
    );

    const none = { 'wf.a': 4, 'wf.b': 3 };
    capScaleUps(none, [{ workloadId: 'wf.a', from: 3 }], overFor(none));
    expect(none).toEqual({ 'wf.a': 3, 'wf.b': 3 });
  });
});

describe('what other versions hold', () => {
  it("counts a version's nodes at their autoscaled counts, else their bounds' min, else the KRT's", () => {
    const krt = {
      workflows: [
        {
          name: 'wf',
          nodes: [
            { name: 'a', replicas: 1 },
            { name: 'b', replicas: 2 },
            { name: 'c', replicas: 1 },
          ],
        },
      ],
    } as unknown as Krt;
    const mins = minReplicasOf({
      scale: {
        autoscale: [
          { workflow: 'wf', node: 'a', min: 2, max: 4 },
          { workflow: 'wf', node: 'c', min: 1, max: 3 },
        ],
      },
    });
    const counted = krtWithReplicas(krt, { ...mins, 'wf.c': 3 });
    expect(counted.workflows[0].nodes.map((n) => n.replicas)).toEqual([2, 2, 3]);
  });
});
