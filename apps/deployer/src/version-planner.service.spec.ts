import { VersionStatus } from '@libs/core';
import type { Krt } from '@libs/krt';
import { Names } from '@libs/naming';
import type { ConfigCipher, VersionDoc } from '@libs/persistence';
import { describe, expect, it } from 'vitest';
import type { DeployerEnv } from './deployer.env.js';
import { VersionPlanner } from './version-planner.service.js';

const MB = 2 ** 20;

/** A version of one workflow whose nodes have these KRT replicas; no KV bucket or object store. */
function version(
  name: string,
  status: VersionStatus,
  nodes: Record<string, number>,
  autoscale: { node: string; min: number; max: number }[] = [],
): VersionDoc {
  const krt = {
    version: name,
    workflows: [
      {
        name: 'wf',
        nodes: Object.entries(nodes).map(([node, replicas]) => ({
          name: node,
          replicas,
          gpu: false,
          subscriptions: [],
        })),
      },
    ],
  } as unknown as Krt;
  return {
    runtimeId: 'rt',
    name,
    status,
    krt,
    scale: { autoscale: autoscale.map((a) => ({ workflow: 'wf', ...a })) },
  } as unknown as VersionDoc;
}

function planner(): VersionPlanner {
  return new VersionPlanner({} as ConfigCipher, new Names('kre'), {
    WORKLOAD_MEMORY_MB: 100,
    WORKLOAD_CPUS: 0.5,
    WORKFLOW_STREAM_MAX_SIZE: 0,
    KV_BUCKET_MAX_SIZE: 0,
    OBJECT_STORE_MAX_SIZE: 0,
    REQUEST_TIMEOUT_SECONDS: 30,
  } as DeployerEnv);
}

describe('VersionPlanner.othersUsage (what a start or a scale-up is counted beside)', () => {
  it('counts running versions whole, their bounded nodes at what autoscaling keeps now, else at min', () => {
    const sut = planner();
    sut.replicaCounts = ({ versionName }) => (versionName === 'busy' ? { 'wf.b': 5 } : undefined);
    const versions = [
      version('busy', VersionStatus.STARTED, { a: 1, b: 1 }, [{ node: 'b', min: 2, max: 8 }]),
      version('quiet', VersionStatus.PUBLISHED, { a: 1, b: 1 }, [{ node: 'b', min: 2, max: 8 }]),
      version('stopped', VersionStatus.STOPPED, { a: 3 }),
      version('new', VersionStatus.CREATED, { a: 9 }),
      version('self', VersionStatus.STARTING, { a: 7 }),
    ];
    const usage = sut.othersUsage(versions, 'self');
    // busy: entrypoint + a 1 + b 5 (autoscaled); quiet: entrypoint + a 1 + b 2 (its min);
    // stopped and created hold no replica; `self` is the one being checked.
    expect(usage.replicas).toBe(7 + 4);
    expect(usage.memoryBytes).toBe(11 * 100 * MB);
    expect(usage.cpuMillis).toBe(11 * 500);
  });
});

describe('VersionPlanner.nodeReplicas (the counts a config roll plans with)', () => {
  const scaled = (nodeReplicas: Record<string, number>) => {
    const v = version('v', VersionStatus.STARTED, { a: 1, b: 1, c: 1 }, [
      { node: 'b', min: 2, max: 8 },
      { node: 'c', min: 1, max: 3 },
    ]);
    return {
      ...v,
      scale: {
        ...v.scale,
        state: 'AWAKE',
        nodeReplicas: Object.entries(nodeReplicas).map(([workload, replicas]) => ({
          workload,
          replicas,
        })),
      },
    } as VersionDoc;
  };

  it('on a deployer that does not lead: what the leader last applied, within the bounds of today', () => {
    const sut = planner(); // its own autoscaler keeps nothing (replicaCounts: undefined)
    expect(sut.nodeReplicas(scaled({ 'wf.b': 5, 'wf.c': 9, 'wf.a': 4 }))).toEqual({
      'wf.b': 5,
      'wf.c': 3, // capped by max 3
      // wf.a has no bounds: the KRT's replicas, not a count left from earlier bounds
    });
    expect(sut.nodeReplicas(scaled({}))).toEqual({ 'wf.b': 2, 'wf.c': 1 });
  });

  it("on the leader: its own counts win over what the version's document says", () => {
    const sut = planner();
    sut.replicaCounts = () => ({ 'wf.b': 7 });
    expect(sut.nodeReplicas(scaled({ 'wf.b': 5, 'wf.c': 2 }))).toEqual({ 'wf.b': 7, 'wf.c': 2 });
  });
});
