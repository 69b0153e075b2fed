import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { VersionStatus } from '@libs/core';
import { GatewayRoutes, connectNats, versionRouteKey } from '@libs/messaging';
import { openControlPlane, seedGreeter, type ControlPlane } from '../deployer-harness.js';
import { Names } from '@libs/naming';
import {
  freePort,
  markDeploymentsAvailable,
  runApp,
  startKubernetes,
  testEnv,
  waitForHttp,
  type AppProcess,
  type KubeCluster,
} from '@libs/testing';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The deployer as a process with ORCHESTRATOR=kubernetes against a real API server: the runtime
 * and version jobs create the namespace, apply the version (made available by writing
 * Deployment status, as no kubelet runs), route, publish, stop, refuse a Python node, and delete
 * the namespace with the runtime.
 */
describe('deployer with the kubernetes driver', () => {
  const env = testEnv({ CONFIG_ENCRYPTION_KEY: randomBytes(32).toString('base64') });
  const names = new Names(env.KRE_PREFIX);
  const rt = 'kube-rt';
  const namespace = names.namespace(rt);
  let cluster: KubeCluster;
  let apps: AppsV1Api;
  let core: CoreV1Api;
  let work: string;
  let nc: NatsConnection;
  let plane: ControlPlane;
  let deployer: AppProcess | undefined;

  /** Seeds examples/greeter as version `name`, every node's image replaced by `image`. */
  const seedVersion = (name: string, image?: string) =>
    seedGreeter({ work, prefix: env.KRE_PREFIX, runtimeId: rt, plane }, name, async (dir) => {
      if (!image) return;
      const manifest = join(dir, 'kre.yaml');
      const text = await readFile(manifest, 'utf8');
      await writeFile(
        manifest,
        text.replaceAll('image: kre/runner-node:latest', `image: ${image}`),
      );
    });

  const markAvailable = () => markDeploymentsAvailable(apps, namespace);

  /** Waits until the version leaves `transitional` (marking Deployments available meanwhile). */
  const settled = async (name: string, transitional: VersionStatus) => {
    await expect
      .poll(
        async () => {
          await markAvailable();
          return (await plane.versions.find(rt, name))?.status;
        },
        { timeout: 90_000, interval: 250 },
      )
      .not.toBe(transitional);
    const version = await plane.versions.find(rt, name);
    return version && { status: version.status, message: version.statusMessage };
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'kre-kube-deployer-e2e-'));
    cluster = await startKubernetes();
    const kc = new KubeConfig();
    kc.loadFromString(cluster.kubeconfig);
    apps = kc.makeApiClient(AppsV1Api);
    core = kc.makeApiClient(CoreV1Api);
    plane = await openControlPlane(env);
    nc = await connectNats({
      url: env.NATS_URL,
      credentials: env.NATS_CREDS,
      name: 'kube-deployer-e2e',
    });
    await plane.runtimes.create({ _id: rt, name: 'Kube', description: '', createdBy: 'e2e' });

    const port = await freePort();
    deployer = runApp('deployer', {
      ...env,
      DEPLOYER_HEALTH_PORT: String(port),
      ORCHESTRATOR: 'kubernetes',
      KUBECONFIG: cluster.kubeconfigPath,
      KUBE_NAMESPACE: 'kre-system',
      KUBE_INGRESS_DOMAIN: 'kre.test',
      // An image the installation says it cannot run (as KRE's Go runner is by default).
      KUBE_IMAGE_MAP: JSON.stringify({ 'acme/unrunnable': null }),
      WORKLOAD_READY_TIMEOUT_SECONDS: '60',
    });
    await waitForHttp(`http://127.0.0.1:${port}/health`, deployer);
  }, 180_000);

  afterAll(async () => {
    await deployer?.stop();
    await nc?.drain();
    await plane?.close();
    await cluster?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('creates the runtime with its own restricted namespace', async () => {
    await plane.runtimeJobs.add('create', { runtimeId: rt, by: 'e2e' });
    await expect
      .poll(async () => (await plane.runtimes.get(rt)).status, { timeout: 30_000 })
      .toBe('CREATED');
    const ns = await core.readNamespace({ name: namespace });
    expect(ns.metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('starts a version: Deployments applied, STARTED once available, routed to its Service', async () => {
    const name = await seedVersion('greeter-v1');
    await plane.versions.transition(rt, name, [VersionStatus.CREATED], VersionStatus.STARTING);
    await plane.versionJobs.add('start', { runtimeId: rt, versionName: name, by: 'e2e' });
    expect(await settled(name, VersionStatus.STARTING)).toEqual({
      status: VersionStatus.STARTED,
      message: undefined,
    });
    const deployments = await apps.listNamespacedDeployment({ namespace });
    expect(deployments.items).toHaveLength(4);
    const route = await (
      await new Kvm(nc).open(names.gatewayBucket())
    ).get(versionRouteKey(rt, name));
    const service = names.k8sObject(name);
    expect(route?.json()).toEqual({
      http: `${service}.${namespace}.svc:8080`,
      grpc: `${service}.${namespace}.svc:9000`,
    });
  });

  it('publishes: the stable entrypoint Service and Ingress, and the runtime route', async () => {
    await plane.versions.publish(rt, 'greeter-v1', 'e2e');
    await plane.versionJobs.add('publish', { runtimeId: rt, versionName: 'greeter-v1', by: 'e2e' });
    const routes = await GatewayRoutes.open(nc, names);
    await expect
      .poll(() => routes.published(rt), { timeout: 30_000 })
      .toMatchObject({ version: 'greeter-v1' });
    // The runtime's stable address leads to the installation's gateway, not to its pods.
    const service = await core.readNamespacedService({ name: 'entrypoint', namespace });
    expect(service.metadata?.annotations?.['kre.io/published-version']).toBe('greeter-v1');
    expect(service.spec?.type).toBe('ExternalName');
    expect(service.spec?.externalName).toMatch(/^kre-gateway\./);
  });

  it('fails a version whose nodes need a runner this installation lacks, naming the image, and writes nothing', async () => {
    const name = await seedVersion('greeter-unrunnable', 'acme/unrunnable:1.0');
    await plane.versions.transition(rt, name, [VersionStatus.CREATED], VersionStatus.STARTING);
    await plane.versionJobs.add('start', { runtimeId: rt, versionName: name, by: 'e2e' });
    const result = await settled(name, VersionStatus.STARTING);
    expect(result?.status).toBe(VersionStatus.ERROR);
    expect(result?.message).toMatch(/uses image "acme\/unrunnable:1.0"/);
    const objects = await apps.listNamespacedDeployment({
      namespace,
      labelSelector: `kre.io/version=${name}`,
    });
    expect(objects.items).toEqual([]);
  });

  it('stops the published version: its objects and the stable Service are gone', async () => {
    await plane.versions.transition(
      rt,
      'greeter-v1',
      [VersionStatus.PUBLISHED, VersionStatus.STARTED],
      VersionStatus.STOPPING,
    );
    await plane.versionJobs.add('stop', { runtimeId: rt, versionName: 'greeter-v1', by: 'e2e' });
    expect(await settled('greeter-v1', VersionStatus.STOPPING)).toEqual({
      status: VersionStatus.STOPPED,
      message: undefined,
    });
    expect((await apps.listNamespacedDeployment({ namespace })).items).toEqual([]);
    const services = await core.listNamespacedService({ namespace });
    expect(services.items.map((s) => s.metadata?.name)).toEqual([]);
  });

  it('deletes the runtime and its namespace', async () => {
    await plane.runtimes.setStatus(rt, 'DELETING');
    await plane.runtimeJobs.add('delete', { runtimeId: rt, by: 'e2e' });
    await expect.poll(() => plane.runtimes.find(rt), { timeout: 90_000 }).toBeNull();
    await expect(core.readNamespace({ name: namespace })).rejects.toMatchObject({ code: 404 });
  });
});
