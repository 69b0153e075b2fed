import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { VersionStatus } from '@libs/core';
import { GatewayRoutes, versionRouteKey } from '@libs/messaging';
import { seedGreeter, type ControlPlane } from '../deployer-harness.js';
import { startKubeDeployer, type KubeDeployerStack } from './kube-deployer-harness.js';
import { Names } from '@libs/naming';
import { testEnv } from '@libs/testing';
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
  let stack: KubeDeployerStack;
  let apps: AppsV1Api;
  let core: CoreV1Api;
  let work: string;
  let nc: NatsConnection;
  let plane: ControlPlane;

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

  const settled = (name: string, transitional: VersionStatus) => stack.settled(name, transitional);

  beforeAll(async () => {
    stack = await startKubeDeployer({
      env,
      runtime: { _id: rt, name: 'Kube', description: '', createdBy: 'e2e' },
      namespace,
      name: 'kube-deployer-e2e',
      deployerEnv: {
        KUBE_INGRESS_DOMAIN: 'kre.test',
        // An image the installation says it cannot run (as KRE's Go runner is by default).
        KUBE_IMAGE_MAP: JSON.stringify({ 'acme/unrunnable': null }),
      },
    });
    ({ apps, core, nc, plane, work } = stack);
  }, 180_000);

  afterAll(() => stack?.close());

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
      // A started version is awake (scale to zero: docs/lifecycle.md, "Sleep and wake").
      scale: 'AWAKE',
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
