import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  NetworkingV1Api,
  type KubernetesObject,
  type V1Deployment,
  type V1Pod,
} from '@kubernetes/client-node';
import { validateKrtDirectory, type Krt } from '@libs/krt';
import { markDeploymentsAvailable, startKubernetes, type KubeCluster } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plan, type DeploymentPlan } from '../deployment-plan.js';
import { WorkloadsNotReadyError } from '../driver.js';
import { UnsupportedImageError } from './images.js';
import { KubernetesDriver } from './kubernetes.driver.js';
import { testOptions } from './options.fixture.js';

/*
 * The kubernetes driver against a real kube-apiserver (with etcd, and kube-controller-manager
 * running the namespace and garbage-collector controllers). No kubelet, scheduler or
 * ReplicaSet controller runs, so, as envtest users do, readiness is simulated by writing
 * Deployment status, and pods are created by the test.
 */
let cluster: KubeCluster;
let kc: KubeConfig;
let driver: KubernetesDriver;
let apps: AppsV1Api;
let core: CoreV1Api;
let objects: KubernetesObjectApi;
let greeter: Krt;
let classifier: Krt;
const options = testOptions({
  ingress: {
    controllerNamespace: 'ingress-nginx',
    domain: 'kre.test',
    className: 'nginx',
    annotations: {},
  },
});

const planOf = (rt: string, krt: Krt): DeploymentPlan =>
  plan({
    prefix: 'kre',
    runtimeId: rt,
    krt,
    natsUrl: 'nats://127.0.0.1:4222',
    config: {
      variables: Object.fromEntries(krt.config.variables.map((k) => [k, `v-${k}`])),
      files: {},
    },
    requestTimeoutSeconds: 30,
  });

const selector = (rt: string, ver: string) => `kre.io/runtime=${rt},kre.io/version=${ver}`;

async function versionObjects(rt: string, ver: string): Promise<KubernetesObject[]> {
  const namespace = `kre-${rt}`;
  const found: KubernetesObject[] = [];
  for (const [apiVersion, kind] of [
    ['apps/v1', 'Deployment'],
    ['v1', 'Service'],
    ['v1', 'Secret'],
  ]) {
    const list = await objects.list(
      apiVersion,
      kind,
      namespace,
      undefined,
      undefined,
      undefined,
      undefined,
      selector(rt, ver),
    );
    found.push(...list.items.map((i) => ({ ...i, kind })));
  }
  return found;
}

const markAvailable = (rt: string, ver: string) =>
  markDeploymentsAvailable(apps, `kre-${rt}`, selector(rt, ver));

beforeAll(async () => {
  [greeter, classifier] = await Promise.all([
    validateKrtDirectory('examples/greeter').then((a) => a.krt),
    validateKrtDirectory('examples/classifier').then((a) => a.krt),
  ]);
  cluster = await startKubernetes();
  kc = new KubeConfig();
  kc.loadFromString(cluster.kubeconfig);
  driver = await KubernetesDriver.create(kc, options);
  apps = kc.makeApiClient(AppsV1Api);
  core = kc.makeApiClient(CoreV1Api);
  objects = KubernetesObjectApi.makeApiClient(kc);
}, 180_000);

afterAll(async () => {
  await driver?.close();
  await cluster?.stop();
});

describe('runtimes', () => {
  it('gives two runtimes two namespaces, each with default-deny networking, quota and limits', async () => {
    await driver.prepareRuntime('alpha');
    await driver.prepareRuntime('beta');
    for (const rt of ['alpha', 'beta']) {
      const ns = await core.readNamespace({ name: `kre-${rt}` });
      expect(ns.metadata?.labels).toMatchObject({
        'kre.io/runtime': rt,
        'pod-security.kubernetes.io/enforce': 'restricted',
      });
      const policies = await kc
        .makeApiClient(NetworkingV1Api)
        .listNamespacedNetworkPolicy({ namespace: `kre-${rt}` });
      expect(policies.items.map((p) => p.metadata?.name).sort()).toEqual([
        'allow-dns',
        'allow-entrypoint-ingress',
        'allow-nats',
        'default-deny',
      ]);
      const quota = await core.readNamespacedResourceQuota({
        name: 'kre-quota',
        namespace: `kre-${rt}`,
      });
      expect(quota.spec?.hard).toEqual(options.resourceQuota);
      const limits = await core.readNamespacedLimitRange({
        name: 'kre-limits',
        namespace: `kre-${rt}`,
      });
      expect(limits.spec?.limits[0]._default).toEqual(options.limitRange.default);
      const account = await core.readNamespacedServiceAccount({
        name: 'kre-workload',
        namespace: `kre-${rt}`,
      });
      expect(account.automountServiceAccountToken).toBe(false);
    }
  });

  it('refuses, in a runtime namespace, a pod that breaks Pod Security restricted', async () => {
    await driver.prepareRuntime('alpha');
    await expect(
      core.createNamespacedPod({
        namespace: 'kre-alpha',
        body: {
          metadata: { name: 'rooted' },
          spec: {
            containers: [{ name: 'c', image: 'busybox', securityContext: { privileged: true } }],
          },
        },
      }),
    ).rejects.toThrow(/violates PodSecurity \\+"restricted/);
  });

  it('deletes a runtime namespace and waits until it is really gone', async () => {
    await driver.prepareRuntime('gamma');
    await driver.apply(planOf('gamma', greeter));
    await driver.removeRuntime('gamma');
    await expect(core.readNamespace({ name: 'kre-gamma' })).rejects.toMatchObject({ code: 404 });
    await driver.removeRuntime('gamma'); // idempotent
  });
});

describe.each([
  ['greeter', () => greeter, 4],
  ['classifier', () => classifier, 7],
])('a version of examples/%s', (name, krt, workloads) => {
  const rt = `rt-${name}`;
  let p: DeploymentPlan;

  beforeAll(async () => {
    p = planOf(rt, krt());
    await driver.prepareRuntime(rt);
  });

  it('is applied as a Secret, a Deployment per workload and the entrypoint Service, all accepted by the API server', async () => {
    await driver.apply(p);
    const found = await versionObjects(rt, p.versionName);
    expect(found.filter((o) => o.kind === 'Deployment')).toHaveLength(workloads);
    expect(found.filter((o) => o.kind === 'Secret')).toHaveLength(1);
    expect(found.filter((o) => o.kind === 'Service')).toHaveLength(1);
    const deployment = found.find((o) => o.kind === 'Deployment') as V1Deployment;
    expect(deployment.metadata?.managedFields?.[0]?.manager).toBe('kre-test');
  });

  it('a second apply changes nothing', async () => {
    const before = await versionObjects(rt, p.versionName);
    await driver.apply(p);
    const after = await versionObjects(rt, p.versionName);
    expect(
      after.map((o) => `${o.kind}/${o.metadata?.name}@${o.metadata?.resourceVersion}`).sort(),
    ).toEqual(
      before.map((o) => `${o.kind}/${o.metadata?.name}@${o.metadata?.resourceVersion}`).sort(),
    );
  });

  it('is not ready until every Deployment is available, then is', async () => {
    await expect(driver.waitReady(rt, p.versionName, 1_500)).rejects.toThrow(
      WorkloadsNotReadyError,
    );
    const waiting = driver.waitReady(rt, p.versionName, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await markAvailable(rt, p.versionName);
    await expect(waiting).resolves.toBeUndefined();
    expect(await driver.endpoints(rt, p.versionName)).toEqual({
      http: `${p.workloads[0].k8sName}.kre-${rt}.svc:8080`,
      grpc: `${p.workloads[0].k8sName}.kre-${rt}.svc:9000`,
    });
  });

  it('publishes through the stable entrypoint Service and an Ingress, and unpublishes', async () => {
    await driver.publish(rt, p.versionName);
    const service = await core.readNamespacedService({
      name: 'entrypoint',
      namespace: `kre-${rt}`,
    });
    // An ExternalName onto the installation's gateway, as the API server keeps it.
    expect(service.metadata?.annotations?.['kre.io/published-version']).toBe(p.versionName);
    expect(service.spec).toMatchObject({
      type: 'ExternalName',
      externalName: options.gateway.host,
    });
    expect(service.spec?.selector).toBeUndefined();
    expect(service.spec?.ports?.map((port) => port.port).sort()).toEqual(
      [options.gateway.grpcPort, options.gateway.httpPort].sort(),
    );
    const ingress = await kc
      .makeApiClient(NetworkingV1Api)
      .readNamespacedIngress({ name: 'entrypoint', namespace: `kre-${rt}` });
    expect(ingress.spec?.rules?.[0].host).toBe(`${rt}.kre.test`);
    expect(ingress.spec?.rules?.[0].http?.paths[0].backend.service?.port?.number).toBe(
      options.gateway.httpPort,
    );
    await driver.unpublish(rt, 'some-other-version'); // not the published one: kept
    await core.readNamespacedService({ name: 'entrypoint', namespace: `kre-${rt}` });
    await driver.unpublish(rt, p.versionName);
    await expect(
      core.readNamespacedService({ name: 'entrypoint', namespace: `kre-${rt}` }),
    ).rejects.toMatchObject({ code: 404 });
  });

  it('sleeps (scale to zero): every Deployment at 0 replicas, the count kept, its Service and Secret stay; wakes back', async () => {
    const replicas = async () =>
      Object.fromEntries(
        (
          await apps.listNamespacedDeployment({
            namespace: `kre-${rt}`,
            labelSelector: selector(rt, p.versionName),
          })
        ).items.map((d) => [
          d.metadata!.name!,
          [d.spec?.replicas, d.metadata?.annotations?.['kre.io/awake-replicas']],
        ]),
      );
    const planned = Object.fromEntries(p.workloads.map((w) => [w.k8sName, w.replicas]));
    const total = p.workloads.reduce((n, w) => n + w.replicas, 0);
    expect(await driver.release(rt, p.versionName)).toBe(total);
    expect(await replicas()).toEqual(
      Object.fromEntries(Object.entries(planned).map(([k, n]) => [k, [0, String(n)]])),
    );
    expect(await driver.release(rt, p.versionName)).toBe(total); // idempotent
    // A plan applied while asleep (a config change) leaves it asleep; the resume runs it.
    const changed: DeploymentPlan = {
      ...p,
      workloads: p.workloads.map((w) => ({
        ...w,
        env: { ...w.env, KRT_CHANGED_ASLEEP: 'yes' },
        specHash: `${w.specHash}-asleep`,
      })),
    };
    await driver.apply(changed, { released: true });
    expect(await replicas()).toEqual(
      Object.fromEntries(Object.entries(planned).map(([k, n]) => [k, [0, String(n)]])),
    );
    const templates = await apps.listNamespacedDeployment({
      namespace: `kre-${rt}`,
      labelSelector: selector(rt, p.versionName),
    });
    for (const d of templates.items)
      expect(d.spec?.template.spec?.containers[0].env).toContainEqual({
        name: 'KRT_CHANGED_ASLEEP',
        value: 'yes',
      });
    const kept = await versionObjects(rt, p.versionName);
    expect(
      kept
        .filter((o) => o.kind !== 'Deployment')
        .map((o) => o.kind)
        .sort(),
    ).toEqual(['Secret', 'Service']);
    expect(await driver.endpoints(rt, p.versionName)).not.toBeNull();
    expect(await driver.resume(rt, p.versionName)).toBe(total);
    expect(Object.fromEntries(Object.entries(await replicas()).map(([k, [n]]) => [k, n]))).toEqual(
      planned,
    );
    expect(await driver.resume(rt, p.versionName)).toBe(total); // idempotent
    await expect(driver.resume(rt, 'never-applied')).rejects.toThrow(WorkloadsNotReadyError);
  });

  it('stops: nothing of the version is left, the runtime namespace stays', async () => {
    await driver.stop(rt, p.versionName);
    expect(await versionObjects(rt, p.versionName)).toEqual([]);
    expect(await driver.endpoints(rt, p.versionName)).toBeNull();
    await core.readNamespace({ name: `kre-${rt}` });
    await driver.stop(rt, p.versionName); // idempotent
  });
});

describe('node status', () => {
  const rt = 'rt-status';

  /** A pod as the ReplicaSet controller would create it from the workload's template. */
  async function podOf(d: V1Deployment, suffix: string, status: V1Pod['status']): Promise<void> {
    const namespace = d.metadata!.namespace!;
    const name = `${d.metadata!.name!.slice(0, 50)}-${suffix}`;
    const created = await core.createNamespacedPod({
      namespace,
      body: { metadata: { ...d.spec!.template.metadata, name }, spec: d.spec!.template.spec },
    });
    await core.replaceNamespacedPodStatus({ name, namespace, body: { ...created, status } });
  }

  it('reports each replica from its pod: running, crash-looping with its exit', async () => {
    // No quota here: admitting pods under a quota needs the resource-quota controller.
    const driver = await KubernetesDriver.create(kc, { ...options, resourceQuota: {} });
    const p = planOf(rt, greeter);
    await driver.apply(p);
    const list = await apps.listNamespacedDeployment({
      namespace: `kre-${rt}`,
      labelSelector: selector(rt, p.versionName),
    });
    const node = list.items.find(
      (d) => d.metadata?.annotations?.['kre.io/workload'] === 'greet.clean-name',
    )!;
    const image = node.spec!.template.spec!.containers[0].image!;
    const now = new Date();
    await podOf(node, 'a', {
      phase: 'Running',
      containerStatuses: [
        {
          name: 'node',
          image,
          imageID: '',
          ready: true,
          restartCount: 0,
          state: { running: { startedAt: now } },
        },
      ],
    });
    await podOf(node, 'b', {
      phase: 'Running',
      containerStatuses: [
        {
          name: 'node',
          image,
          imageID: '',
          ready: false,
          restartCount: 3,
          state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } },
          lastState: {
            terminated: { exitCode: 1, reason: 'Error', startedAt: now, finishedAt: now },
          },
        },
      ],
    });
    const status = await driver.status(rt, p.versionName);
    expect(status).toEqual([
      { workloadId: 'greet.clean-name', replica: 0, state: 'RUNNING', restarts: 0 },
      {
        workloadId: 'greet.clean-name',
        replica: 1,
        state: 'RESTARTING',
        restarts: 3,
        message: 'exited with code 1 (Error)',
      },
    ]);
    // This cluster serves no metrics API (no metrics-server): resource use says so, restarts stay.
    expect(await driver.usage(rt, p.versionName)).toEqual({
      available: false,
      source: 'metrics-api',
      reason: expect.stringContaining('no metrics API') as string,
      replicas: [
        { workloadId: 'greet.clean-name', replica: 0, state: 'RUNNING', restarts: 0 },
        { workloadId: 'greet.clean-name', replica: 1, state: 'RESTARTING', restarts: 3 },
      ],
    });
    await driver.stop(rt, p.versionName);
  });

  it('sleeps the entrypoint first: the nodes keep their replicas until its pods are gone', async () => {
    const rt = 'rt-sleep-order'; // no pod left by the test above (nothing deletes them here)
    const driver = await KubernetesDriver.create(kc, { ...options, resourceQuota: {} });
    const p = planOf(rt, greeter);
    await driver.apply(p);
    const namespace = `kre-${rt}`;
    const deployments = async () =>
      (
        await apps.listNamespacedDeployment({
          namespace,
          labelSelector: selector(rt, p.versionName),
        })
      ).items;
    const entrypoint = (await deployments()).find(
      (d) => d.metadata?.annotations?.['kre.io/workload'] === 'entrypoint',
    )!;
    // This control plane runs no ReplicaSet controller or kubelet: the test makes the
    // entrypoint's pod, and ends it when a kubelet would have (after its grace period).
    await podOf(entrypoint, 'a', { phase: 'Running' });
    const released = driver.release(rt, p.versionName);
    await expect
      .poll(
        async () =>
          (await apps.readNamespacedDeployment({ name: entrypoint.metadata!.name!, namespace }))
            .spec?.replicas,
        { timeout: 30_000 },
      )
      .toBe(0);
    // The entrypoint is ending (finishing the requests in progress): the nodes still run.
    const nodes = (await deployments()).filter(
      (d) => d.metadata?.name !== entrypoint.metadata?.name,
    );
    expect(nodes).toHaveLength(p.workloads.length - 1);
    for (const node of nodes) expect(node.spec?.replicas).toBeGreaterThan(0);
    await core.deleteNamespacedPod({
      name: `${entrypoint.metadata!.name!.slice(0, 50)}-a`,
      namespace,
      gracePeriodSeconds: 0,
    });
    expect(await released).toBe(p.workloads.length);
    expect((await deployments()).map((d) => d.spec?.replicas)).toEqual(
      nodes.map(() => 0).concat(0),
    );
    await driver.stop(rt, p.versionName);
  });
});

it('refuses a version that needs a runner this installation lacks, before writing anything', async () => {
  // KRE's compiled Go nodes (refused at upload since #14; a version stored before).
  const rt = 'rt-go';
  const go: Krt = {
    ...greeter,
    workflows: greeter.workflows.map((wf) => ({
      ...wf,
      nodes: wf.nodes.map((n) => ({ ...n, image: 'konstellation/kre-go:1.0' })),
    })),
  };
  await driver.prepareRuntime(rt);
  await expect(driver.apply(planOf(rt, go))).rejects.toThrow(UnsupportedImageError);
  expect(await versionObjects(rt, go.version)).toEqual([]);
});

it("names the object and the API server's reason when it refuses one", async () => {
  const bad = await KubernetesDriver.create(kc, {
    ...options,
    workloadResources: { requests: { cpu: 'lots' } },
  });
  await expect(bad.apply(planOf('rt-bad', greeter))).rejects.toThrow(
    /^the API server refused Deployment kre-rt-bad\/v-greeter-v1-[0-9a-f]{6}: .*quantities must match the regular expression.*\(HTTP \d{3}\)$/s,
  );
});

describe("the runtime's quota", () => {
  it("becomes the namespace's ResourceQuota, and each node's resources its containers' limits, as the API server stores them", async () => {
    const rt = 'rt-quota';
    const MI = 2 ** 20;
    const sized: Krt = {
      ...greeter,
      workflows: greeter.workflows.map((wf) => ({
        ...wf,
        nodes: wf.nodes.map((n, i) =>
          i === 0
            ? { ...n, replicas: 2, gpu: true, resources: { memoryBytes: 512 * MI, cpuMillis: 250 } }
            : n,
        ),
      })),
    };
    const quota = {
      replicas: 8,
      memoryBytes: 4096 * MI,
      cpuMillis: 4_500,
      gpus: 2,
      storageBytes: 0,
      obsBytes: 1024 * MI,
      obsMaxAgeMs: 604_800_000,
    };
    await driver.prepareRuntime(rt, quota);
    const p = plan({
      prefix: 'kre',
      runtimeId: rt,
      krt: sized,
      natsUrl: 'nats://127.0.0.1:4222',
      config: { variables: { GREETING: 'hi' }, files: {} },
      requestTimeoutSeconds: 30,
      replicaDefaults: { memoryBytes: 256 * MI, cpuMillis: 100 },
    });
    await driver.apply({ ...p, quota });

    const stored = await core.readNamespacedResourceQuota({
      name: 'kre-quota',
      namespace: `kre-${rt}`,
    });
    expect(stored.spec?.hard).toEqual({
      ...options.resourceQuota,
      pods: '8',
      'limits.memory': '4Gi',
      'limits.cpu': '4500m',
      'requests.nvidia.com/gpu': '2',
    });

    const list = await apps.listNamespacedDeployment({
      namespace: `kre-${rt}`,
      labelSelector: selector(rt, p.versionName),
    });
    const pods = new Map(
      list.items.map((d) => [d.metadata?.annotations?.['kre.io/workload'], d.spec!]),
    );
    const sizedId = `${sized.workflows[0].name}.${sized.workflows[0].nodes[0].name}`;
    const node = pods.get(sizedId)!;
    expect(node.replicas).toBe(2);
    // The API server keeps quantities as given ("512Mi", "250m") and the GPU limit.
    expect(node.template.spec!.containers[0].resources).toEqual({
      requests: { cpu: '50m', memory: '128Mi' },
      limits: { cpu: '250m', memory: '512Mi', 'nvidia.com/gpu': '1' },
    });
    expect(node.template.spec!.initContainers![0].resources?.limits).toEqual({
      cpu: '250m',
      memory: '512Mi',
    });
    const entrypoint = pods.get('entrypoint')!;
    expect(entrypoint.template.spec!.containers[0].resources).toEqual({
      requests: { cpu: '50m', memory: '128Mi' },
      limits: { cpu: '100m', memory: '256Mi' },
    });

    // A lowered quota reaches the namespace with the next apply.
    await driver.apply({ ...p, quota: { ...quota, replicas: 5, gpus: 0 } });
    const lowered = await core.readNamespacedResourceQuota({
      name: 'kre-quota',
      namespace: `kre-${rt}`,
    });
    expect(lowered.spec?.hard).toMatchObject({ pods: '5', 'requests.nvidia.com/gpu': '0' });
    await driver.stop(rt, p.versionName);
  });
});
