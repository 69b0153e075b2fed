import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  ApiextensionsV1Api,
  CustomObjectsApi,
  KubeConfig,
  loadYaml,
  type AppsV1Api,
  type V1CustomResourceDefinition,
  type V1Deployment,
} from '@kubernetes/client-node';
import { VersionStatus } from '@libs/core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { parseNatsAuthority, publicKeys, wakeReplySchema } from '@libs/messaging';
import { Names } from '@libs/naming';
import { markDeploymentsAvailable, testEnv } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedGreeter, type ControlPlane } from '../deployer-harness.js';
import { startKubeDeployer, type KubeDeployerStack } from './kube-deployer-harness.js';

type ScaledObject = { metadata: { name: string; labels?: Record<string, string> }; spec: unknown };

/**
 * Node autoscaling on Kubernetes (issue #16) through the deployer process and a real API server
 * and NATS. No kubelet runs (Deployments are marked available by the test, as in the other
 * kubernetes e2e tests) and no runner pod consumes: the backlog is real, messages published into
 * the workflow stream and waiting in the node's durable consumer.
 * 1. Without KEDA the deployer scales the node's Deployment: up to its max under a sustained
 *    backlog, the pod template (spec hash) untouched, down to its min after the cool-down.
 * 2. Once the cluster serves KEDA's CRD (a trimmed copy applied here; no KEDA operator runs), the
 *    deployer renders a ScaledObject for the node instead, as the CRD's schema keeps it; a config
 *    roll keeps the replicas KEDA's HPA set; new bounds reach it; sleep removes it before the
 *    Deployments go to 0, a wake brings it back, a stop removes it.
 * 3. With KEDA scaling the nodes, the deployer still scales the entrypoint's Deployment on the
 *    calls in flight the gateways report (published here as two gateways would).
 */
describe('node autoscaling with the kubernetes driver', () => {
  const env = testEnv({ CONFIG_ENCRYPTION_KEY: randomBytes(32).toString('base64') });
  const names = new Names(env.KRE_PREFIX);
  const rt = 'kube-busy';
  const namespace = names.namespace(rt);
  let stack: KubeDeployerStack;
  let apps: AppsV1Api;
  let plane: ControlPlane;
  let custom: CustomObjectsApi;
  let kubeConfig: KubeConfig;
  let ver: string;
  let workflow: string;
  let node: string;
  let settling: NodeJS.Timeout | undefined;

  /** The bounded node's Deployment. */
  const nodeDeployment = async (): Promise<V1Deployment | undefined> =>
    (
      await apps.listNamespacedDeployment({
        namespace,
        labelSelector: `kre.io/version=${ver},kre.io/node=${node}`,
      })
    ).items[0];
  const nodeReplicas = async () => (await nodeDeployment())?.spec?.replicas;
  const scaledObjects = async (): Promise<ScaledObject[]> =>
    (
      (await custom.listNamespacedCustomObject({
        group: 'keda.sh',
        version: 'v1alpha1',
        namespace,
        plural: 'scaledobjects',
        labelSelector: `kre.io/version=${ver}`,
      })) as { items: ScaledObject[] }
    ).items;
  const scaleState = async () => (await plane.versions.find(rt, ver))?.scale?.state;

  beforeAll(async () => {
    stack = await startKubeDeployer({
      env,
      runtime: { _id: rt, name: 'Kube busy', description: '', createdBy: 'e2e' },
      namespace,
      name: 'kube-autoscale-e2e',
      deployerEnv: {
        AUTOSCALE_TARGET_BACKLOG: '8',
        AUTOSCALE_TARGET_IN_FLIGHT: '8',
        AUTOSCALE_UP_AFTER_SECONDS: '1',
        AUTOSCALE_COOLDOWN_SECONDS: '3',
        KUBE_KEDA_NATS_MONITORING_ENDPOINT: 'kre-nats.kre-system.svc:8222',
      },
    });
    ({ apps, plane } = stack);
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(stack.cluster.kubeconfig);
    custom = kubeConfig.makeApiClient(CustomObjectsApi);
    // No kubelet: what the deployer scales becomes available at once, as pods would.
    const settle = () => {
      settling = setTimeout(() => {
        markDeploymentsAvailable(apps, namespace)
          .catch(() => undefined) // a conflict with the deployer's own write: next round
          .finally(() => {
            if (settling) settle();
          });
      }, 200);
    };
    settle();
  }, 180_000);

  afterAll(async () => {
    clearTimeout(settling);
    settling = undefined;
    await stack?.close();
  });

  it('starts a greeter whose first node has bounds 1..3', async () => {
    await plane.runtimeJobs.add('create', { runtimeId: rt, by: 'e2e' });
    await expect
      .poll(async () => (await plane.runtimes.get(rt)).status, { timeout: 30_000 })
      .toBe('CREATED');
    ver = await seedGreeter(
      { work: stack.work, prefix: env.KRE_PREFIX, runtimeId: rt, plane },
      'greeter-v1',
    );
    const { krt } = (await plane.versions.find(rt, ver))!;
    workflow = krt.workflows[0].name;
    node = krt.workflows[0].nodes[0].name;
    await plane.versions.setNodeAutoscale(rt, ver, { workflow, node }, { min: 1, max: 3 });
    await plane.versions.transition(rt, ver, [VersionStatus.CREATED], VersionStatus.STARTING);
    await plane.versionJobs.add('start', { runtimeId: rt, versionName: ver, by: 'e2e' });
    expect((await stack.settled(ver, VersionStatus.STARTING))?.status).toBe(VersionStatus.STARTED);
    expect(await nodeReplicas()).toBe(1);
  }, 120_000);

  it("scales the node's Deployment to its max under a backlog, pods untouched, and back after the cool-down", async () => {
    const before = await nodeDeployment();
    const stream = names.workflowStream(rt, ver, workflow);
    const consumer = names.consumer(node, 'entrypoint');
    const js = jetstream(stack.nc);
    // 40 waiting messages, 8 per replica wanted: 5, within the bounds 3.
    for (let i = 0; i < 40; i++)
      await js.publish(names.entrypointSubject(rt, ver, workflow), new Uint8Array([i]));
    const jsm = await jetstreamManager(stack.nc);
    expect((await jsm.consumers.info(stream, consumer)).num_pending).toBe(40);

    await expect.poll(nodeReplicas, { timeout: 30_000, interval: 200 }).toBe(3);
    const scaled = await nodeDeployment();
    // Only the count changed: the same pod template (spec hash), so running pods stay.
    expect(scaled?.spec?.template).toEqual(before?.spec?.template);
    expect(scaled?.spec?.template.metadata?.annotations?.['kre.io/spec-hash']).toBe(
      before?.spec?.template.metadata?.annotations?.['kre.io/spec-hash'],
    );
    // The other workloads keep their one replica.
    const others = (
      await apps.listNamespacedDeployment({ namespace, labelSelector: `kre.io/version=${ver}` })
    ).items.filter((d) => d.metadata?.name !== scaled?.metadata?.name);
    expect(others.map((d) => d.spec?.replicas)).toEqual([1, 1, 1]);

    // Drained (as replicas would): after the cool-down, back to the min.
    await jsm.streams.purge(stream);
    expect((await jsm.consumers.info(stream, consumer)).num_pending).toBe(0);
    await expect.poll(nodeReplicas, { timeout: 30_000, interval: 200 }).toBe(1);
    expect((await nodeDeployment())?.spec?.template).toEqual(before?.spec?.template);
  }, 90_000);

  it("renders a ScaledObject for the node once the cluster serves KEDA's CRD", async () => {
    const crd = loadYaml<V1CustomResourceDefinition>(
      await readFile('e2e/kubernetes/fixtures/keda-scaledobjects.crd.yaml', 'utf8'),
    );
    const extensions = kubeConfig.makeApiClient(ApiextensionsV1Api);
    await extensions.createCustomResourceDefinition({ body: crd });
    await expect
      .poll(
        async () =>
          (
            await extensions.readCustomResourceDefinition({ name: 'scaledobjects.keda.sh' })
          ).status?.conditions?.find((c) => c.type === 'Established')?.status,
        { timeout: 30_000 },
      )
      .toBe('True');

    const account = publicKeys(
      parseNatsAuthority(await readFile(env.NATS_AUTHORITY_FILE, 'utf8')),
    ).account;
    const deployment = (await nodeDeployment())!;
    // Discovery is checked again every 10 s.
    await expect.poll(scaledObjects, { timeout: 30_000, interval: 500 }).toHaveLength(1);
    const [object] = await scaledObjects();
    expect(object.metadata.name).toBe(deployment.metadata?.name);
    expect(object.metadata.labels).toMatchObject({
      'kre.io/runtime': rt,
      'kre.io/version': ver,
      'kre.io/node': node,
    });
    // Read back whole: the API server validated it against the CRD's schema and pruned nothing.
    expect(object.spec).toEqual({
      scaleTargetRef: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: deployment.metadata?.name,
      },
      pollingInterval: 5,
      cooldownPeriod: 3,
      minReplicaCount: 1,
      maxReplicaCount: 3,
      advanced: {
        restoreToOriginalReplicaCount: false,
        horizontalPodAutoscalerConfig: {
          behavior: {
            scaleUp: {
              stabilizationWindowSeconds: 1,
              selectPolicy: 'Max',
              policies: [
                { type: 'Percent', value: 100, periodSeconds: 15 },
                { type: 'Pods', value: 1, periodSeconds: 15 },
              ],
            },
            scaleDown: { stabilizationWindowSeconds: 3 },
          },
        },
      },
      triggers: [
        {
          type: 'nats-jetstream',
          metadata: {
            natsServerMonitoringEndpoint: 'kre-nats.kre-system.svc:8222',
            account,
            stream: names.workflowStream(rt, ver, workflow),
            consumer: names.consumer(node, 'entrypoint'),
            lagThreshold: '8',
            useHttps: 'false',
          },
        },
      ],
    });
  }, 60_000);

  it('keeps the replicas KEDA set through a config roll, and hands new bounds over', async () => {
    const before = (await nodeDeployment())!;
    // As KEDA's HPA does: through the scale subresource, another field manager.
    await apps.replaceNamespacedDeploymentScale({
      name: before.metadata!.name!,
      namespace,
      body: { metadata: { name: before.metadata!.name!, namespace }, spec: { replicas: 2 } },
      fieldManager: 'horizontal-pod-autoscaler',
    });
    expect(await nodeReplicas()).toBe(2);
    const version = (await plane.versions.find(rt, ver))!;
    await plane.versions.updateConfig(rt, ver, [
      {
        ...version.config[0],
        value: plane.cipher.encrypt('Hi', { runtimeId: rt, versionName: ver, key: 'GREETING' }),
      },
    ]);
    await plane.versionJobs.add('update-config', { runtimeId: rt, versionName: ver, by: 'e2e' });
    const hash = (d?: V1Deployment) =>
      d?.spec?.template.metadata?.annotations?.['kre.io/spec-hash'];
    await expect
      .poll(async () => hash(await nodeDeployment()), { timeout: 60_000, interval: 250 })
      .not.toBe(hash(before));
    expect(await nodeReplicas()).toBe(2);

    await plane.versions.setNodeAutoscale(rt, ver, { workflow, node }, { min: 2, max: 4 });
    await expect
      .poll(
        async () =>
          (await scaledObjects()).map((o) => {
            const spec = o.spec as { minReplicaCount: number; maxReplicaCount: number };
            return [spec.minReplicaCount, spec.maxReplicaCount];
          }),
        { timeout: 30_000, interval: 250 },
      )
      .toEqual([[2, 4]]);
  }, 120_000);

  it("scales the entrypoint's Deployment on the gateways' calls in flight, where KEDA scales the nodes", async () => {
    const entrypointReplicas = async () =>
      (
        await apps.listNamespacedDeployment({
          namespace,
          labelSelector: `kre.io/version=${ver},app.kubernetes.io/component=entrypoint`,
        })
      ).items[0]?.spec?.replicas;
    expect(await entrypointReplicas()).toBe(1);
    const nodesBefore = await nodeReplicas();
    await plane.versions.setEntrypointAutoscale(rt, ver, { min: 1, max: 3 });
    // Two gateways, each reporting every 300 ms: 10 + 9 calls in flight, 8 per replica wanted.
    const report = (gateway: string, inFlight: number) =>
      stack.nc.publish(
        names.versionActivitySubject(),
        JSON.stringify({ runtimeId: rt, versionName: ver, gateway, inFlight }),
      );
    let reporting = setInterval(() => {
      report('gw-a', 10);
      report('gw-b', 9);
    }, 300);
    try {
      await expect.poll(entrypointReplicas, { timeout: 30_000, interval: 200 }).toBe(3);
    } finally {
      clearInterval(reporting);
    }
    // KEDA's node keeps what it had; the deployer did not touch it.
    expect(await nodeReplicas()).toBe(nodesBefore);
    // One gateway reports 5 in flight: after the cool-down, one replica carries it.
    reporting = setInterval(() => report('gw-a', 5), 300);
    try {
      await expect.poll(entrypointReplicas, { timeout: 30_000, interval: 200 }).toBe(1);
    } finally {
      clearInterval(reporting);
    }
    // What it applied is on the version (a config roll on any deployer plans with it).
    await expect
      .poll(async () => (await plane.versions.find(rt, ver))?.scale?.nodeReplicas)
      .toContainEqual({ workload: 'entrypoint', replicas: 1 });
  }, 90_000);

  it('removes the ScaledObject when the version sleeps, renders it again on wake, removes it on stop', async () => {
    await plane.versions.setIdleSeconds(rt, ver, 2);
    await expect.poll(scaleState, { timeout: 60_000, interval: 200 }).toBe('SLEEPING');
    // SLEEPING is said before the release; the ScaledObject goes first, then the replicas.
    await expect.poll(nodeReplicas, { timeout: 30_000, interval: 200 }).toBe(0);
    expect(await scaledObjects()).toEqual([]);

    await plane.versions.setIdleSeconds(rt, ver, 0); // stays awake once woken
    const reply = await stack.nc.request(
      names.wakeRequestSubject(),
      JSON.stringify({ runtimeId: rt, versionName: ver }),
      { timeout: 10_000 },
    );
    expect(wakeReplySchema.parse(reply.json())).toEqual({ queued: true });
    await expect.poll(scaleState, { timeout: 60_000, interval: 250 }).toBe('AWAKE');
    await expect.poll(scaledObjects, { timeout: 30_000, interval: 250 }).toHaveLength(1);
    expect(await nodeReplicas()).toBe(2); // what it had when it slept

    await plane.versions.transition(rt, ver, [VersionStatus.STARTED], VersionStatus.STOPPING);
    await plane.versionJobs.add('stop', { runtimeId: rt, versionName: ver, by: 'e2e' });
    expect((await stack.settled(ver, VersionStatus.STOPPING))?.status).toBe(VersionStatus.STOPPED);
    expect(await scaledObjects()).toEqual([]);
    expect(await nodeDeployment()).toBeUndefined();
  }, 150_000);
});
