import type { V1Deployment, V1ResourceQuota } from '@kubernetes/client-node';
import { validateKrtDirectory, type Krt } from '@libs/krt';
import { beforeAll, describe, expect, it } from 'vitest';
import { plan } from '../deployment-plan.js';
import { testOptions } from './options.fixture.js';
import { runtimeManifests } from './runtime.manifests.js';
import { containerResources, versionManifests } from './version.manifests.js';

const MI = 2 ** 20;
let greeter: Krt;

beforeAll(async () => {
  greeter = (await validateKrtDirectory('examples/greeter')).krt;
});

describe('the quota on Kubernetes', () => {
  it("makes the namespace's ResourceQuota from the runtime's quota, over KUBE_RESOURCE_QUOTA", () => {
    const quota = runtimeManifests(testOptions(), 'demo', {
      replicas: 12,
      memoryBytes: 6 * 1024 * MI,
      cpuMillis: 3_500,
      gpus: 2,
      storageBytes: 1024 * MI,
      obsBytes: 1024 * MI,
      obsMaxAgeMs: 604_800_000,
    }).find((o): o is V1ResourceQuota => o.kind === 'ResourceQuota');
    expect(quota?.spec?.hard).toEqual({
      // The installation's own entries stay; the runtime's pods, limits and GPUs are added.
      'requests.cpu': '4',
      'requests.memory': '8Gi',
      pods: '12',
      'limits.memory': '6Gi',
      'limits.cpu': '3500m',
      'requests.nvidia.com/gpu': '2',
    });
  });

  it("gives every container of a pod the replica's limits; requests are lowered to fit", () => {
    const gpuGreeter: Krt = {
      ...greeter,
      workflows: greeter.workflows.map((wf) => ({
        ...wf,
        nodes: wf.nodes.map((n, i) =>
          i === 0 ? { ...n, gpu: true, resources: { memoryBytes: 96 * MI, cpuMillis: 20 } } : n,
        ),
      })),
    };
    const deployments = versionManifests(
      testOptions(),
      plan({
        prefix: 'kre',
        runtimeId: 'demo',
        krt: gpuGreeter,
        natsUrl: 'nats://127.0.0.1:4222',
        config: { variables: { GREETING: 'hi' }, files: {} },
        requestTimeoutSeconds: 30,
        replicaDefaults: { memoryBytes: 768 * MI, cpuMillis: 1_500 },
      }),
    ).filter((o): o is V1Deployment => o.kind === 'Deployment');
    const first = gpuGreeter.workflows[0].nodes[0];
    const byWorkload = new Map(
      deployments.map((d) => [
        d.metadata?.annotations?.['kre.io/workload'],
        d.spec!.template.spec!,
      ]),
    );
    const gpuPod = byWorkload.get(`${gpuGreeter.workflows[0].name}.${first.name}`)!;
    expect(gpuPod.containers[0].resources).toEqual({
      requests: { cpu: '20m', memory: '96Mi' },
      limits: { memory: '96Mi', cpu: '20m', 'nvidia.com/gpu': '1' },
    });
    expect(gpuPod.initContainers?.map((c) => c.resources)).toEqual([
      { requests: { cpu: '20m', memory: '96Mi' }, limits: { memory: '96Mi', cpu: '20m' } },
    ]);
    const entrypoint = byWorkload.get('entrypoint')!;
    for (const container of [...entrypoint.containers, ...(entrypoint.initContainers ?? [])])
      expect(container.resources).toEqual({
        requests: { cpu: '50m', memory: '128Mi' },
        limits: { memory: '768Mi', cpu: '1500m' },
      });
  });

  it('keeps KUBE_WORKLOAD_RESOURCES for a hand-made workload without resources', () => {
    expect(containerResources(testOptions(), {})).toEqual(testOptions().workloadResources);
  });
});
