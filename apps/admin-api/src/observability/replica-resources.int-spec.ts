import { Names } from '@libs/naming';
import { dayCollection } from '@libs/observability';
import { MembershipsRepository } from '@libs/persistence';
import { testPrefix } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../../test/harness.js';

const REPLICA_RESOURCES = `query($r: ID!, $v: String!) {
  replicaResources(runtimeId: $r, versionName: $v) {
    workload replica state restarts cpuCores memoryBytes sampledAt source
  }
}`;

describe('replicaResources', () => {
  const prefix = testPrefix();
  const names = new Names(prefix);
  let h: Harness;
  let viewer: { id: string; session: string };
  let seq = 0;

  beforeAll(async () => {
    h = await Harness.start({ KRE_PREFIX: prefix });
    const admin = await h.signIn(h.adminEmail);
    viewer = await h.user('viewer', 'USER', admin);
    await h.get(MembershipsRepository).put('rt-r', viewer.id, 'VIEWER', h.clock.now());
  });
  afterAll(() => h?.close());

  /** The deployer's samples as mongo-writer stores them, `ago` ms before now. */
  const sample = async (
    ago: number,
    workload: string,
    replica: number,
    fields: Record<string, unknown>,
    version = 'v1',
    source = 'cgroup',
  ) => {
    const time = new Date(h.clock.now().getTime() - ago);
    const doc = {
      time,
      origin: {
        runtimeId: 'rt-r',
        version,
        workflow: 'wf',
        node: 'n',
        replica: `${workload}#${replica}`,
      },
      name: 'kre_replica_resources',
      fields,
      tags: { workload, replica: String(replica), source },
    };
    await h
      .connection()
      .getClient()
      .db(names.runtimeDb('rt-r'))
      .collection<{ _id: number }>(dayCollection('measurements', time))
      .insertOne({ _id: ++seq, ...doc });
  };

  it("gives each replica's newest sample of the last two minutes, sorted by workload and replica", async () => {
    await sample(200_000, 'wf.a', 0, { restarts: 0, state: 'RUNNING', memoryBytes: 1 }); // too old
    await sample(30_000, 'wf.a', 0, {
      restarts: 1,
      state: 'RUNNING',
      memoryBytes: 50e6,
      cpuSeconds: 3,
    });
    await sample(15_000, 'wf.a', 0, {
      restarts: 1,
      state: 'RUNNING',
      memoryBytes: 52e6,
      cpuCores: 0.25,
    });
    await sample(15_000, 'entrypoint', 0, {
      restarts: 0,
      state: 'RUNNING',
      memoryBytes: 40e6,
      cpuCores: 0.01,
    });
    await sample(15_000, 'wf.a', 1, { restarts: 3, state: 'RESTARTING' }, 'v1', 'unavailable');
    await sample(15_000, 'wf.a', 0, { restarts: 9, state: 'RUNNING' }, 'v2'); // another version
    await sample(200_000, 'wf.gone', 0, { restarts: 0, state: 'RUNNING' }); // stopped since

    const result = await h.gql<{ replicaResources: unknown }>(
      REPLICA_RESOURCES,
      { r: 'rt-r', v: 'v1' },
      { session: viewer.session },
    );
    expect(result.errors).toBeUndefined();
    const at = (ago: number) => new Date(h.clock.now().getTime() - ago).toISOString();
    expect(result.data?.replicaResources).toEqual([
      {
        workload: 'entrypoint',
        replica: 0,
        state: 'RUNNING',
        restarts: 0,
        cpuCores: 0.01,
        memoryBytes: 40e6,
        sampledAt: at(15_000),
        source: 'cgroup',
      },
      {
        workload: 'wf.a',
        replica: 0,
        state: 'RUNNING',
        restarts: 1,
        cpuCores: 0.25,
        memoryBytes: 52e6,
        sampledAt: at(15_000),
        source: 'cgroup',
      },
      {
        workload: 'wf.a',
        replica: 1,
        state: 'RESTARTING',
        restarts: 3,
        cpuCores: null,
        memoryBytes: null,
        sampledAt: at(15_000),
        source: 'unavailable',
      },
    ]);
  });

  it('refuses a version name that is not a slug, naming the argument', async () => {
    const result = await h.gql(
      REPLICA_RESOURCES,
      { r: 'rt-r', v: 'V 1' },
      { session: viewer.session },
    );
    expect(JSON.stringify(result.errors)).toContain('versionName');
  });
});
