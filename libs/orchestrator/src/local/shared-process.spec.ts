import { describe, expect, it } from 'vitest';
import type { DeploymentPlan, WorkloadSpec } from '../deployment-plan.js';
import { sharedProcessOf } from './shared-process.js';

const DEFAULTS = { memoryBytes: 256 * 2 ** 20, cpuMillis: 250 };

function spec(id: string, extra: Partial<WorkloadSpec> = {}): WorkloadSpec {
  const entrypoint = id === 'entrypoint';
  return {
    id,
    role: entrypoint ? 'entrypoint' : 'node',
    program: entrypoint ? 'entrypoint' : 'runner',
    image: 'kre/runner-node',
    replicas: 1,
    gpu: false,
    resources: DEFAULTS,
    ports: entrypoint ? ['grpc', 'http', 'health'] : ['health'],
    env: entrypoint
      ? { KRT_VERSION: 'v1', GREETING: 'hi', KRT_REQUEST_TIMEOUT: '30' }
      : { KRT_VERSION: 'v1', GREETING: 'hi', KRT_NODE_ID: id, KRT_HANDLER_PATH: `src/${id}.js` },
    configFiles: {},
    labels: {},
    k8sName: `v-${id}`,
    specHash: `${id}-1`,
    ...extra,
  };
}

const planOf = (workloads: WorkloadSpec[]) =>
  ({ prefix: 'kre', runtimeId: 'rt', versionName: 'v1', workloads }) as unknown as DeploymentPlan;

describe(sharedProcessOf.name, () => {
  it('puts the entrypoint and the JS nodes in one process: common env, each member its own part', () => {
    const shared = sharedProcessOf(planOf([spec('a'), spec('entrypoint'), spec('b')]), DEFAULTS)!;
    expect(shared.members).toEqual(['entrypoint', 'a', 'b']);
    expect(shared.ports).toEqual(['grpc', 'http', 'health']);
    expect(shared.resources).toEqual({ memoryBytes: 3 * DEFAULTS.memoryBytes, cpuMillis: 750 });
    const { KRT_SHARED_WORKLOADS: members, ...common } = shared.env;
    expect(common).toEqual({ KRT_VERSION: 'v1', GREETING: 'hi' });
    expect(JSON.parse(members)).toEqual([
      { id: 'entrypoint', program: 'entrypoint', env: { KRT_REQUEST_TIMEOUT: '30' } },
      { id: 'a', program: 'runner', env: { KRT_NODE_ID: 'a', KRT_HANDLER_PATH: 'src/a.js' } },
      { id: 'b', program: 'runner', env: { KRT_NODE_ID: 'b', KRT_HANDLER_PATH: 'src/b.js' } },
    ]);
  });

  it('leaves out Python nodes, nodes with their own limits, a second user of one handler file and nodes scaled to 0', () => {
    const shared = sharedProcessOf(
      planOf([
        spec('entrypoint'),
        spec('a'),
        spec('py', { program: 'runner-python' }),
        spec('big', { resources: { memoryBytes: 2 ** 30, cpuMillis: 250 } }),
        spec('again', { env: { ...spec('a').env, KRT_NODE_ID: 'again' } }),
        spec('none', { replicas: 0 }),
      ]),
      DEFAULTS,
    )!;
    expect(shared.members).toEqual(['entrypoint', 'a']);
  });

  it('shares nothing when fewer than two workloads would', () => {
    expect(sharedProcessOf(planOf([spec('entrypoint')]), DEFAULTS)).toBeUndefined();
    expect(
      sharedProcessOf(planOf([spec('entrypoint'), spec('py', { program: 'runner-python' })])),
    ).toBeUndefined();
  });

  it("changes its spec hash when a member's does, not when a replica count does", () => {
    const hash = (workloads: WorkloadSpec[]) => sharedProcessOf(planOf(workloads))!.specHash;
    const before = hash([spec('entrypoint'), spec('a')]);
    expect(hash([spec('entrypoint'), spec('a', { replicas: 3 })])).toBe(before);
    expect(hash([spec('entrypoint'), spec('a', { specHash: 'a-2' })])).not.toBe(before);
  });
});
