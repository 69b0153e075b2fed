import { randomBytes } from 'node:crypto';
import type { AppsV1Api } from '@kubernetes/client-node';
import { VersionStatus } from '@libs/core';
import { versionRouteKey, versionRouteSchema, wakeReplySchema } from '@libs/messaging';
import { Names } from '@libs/naming';
import { markDeploymentsAvailable, testEnv } from '@libs/testing';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedGreeter } from './deployer-harness.js';
import { startKubeDeployer, type KubeDeployerStack } from './kubernetes/kube-deployer-harness.js';

/**
 * Scale to zero with the deployer process and the kubernetes driver against a real API server
 * (no kubelet: the test marks Deployments available, as the other kubernetes e2e tests do): an
 * idle version's Deployments go to 0 replicas with the count kept, its route stays, and a wake
 * request (as a gateway sends it) brings them back.
 */
describe('scale to zero with the kubernetes driver', () => {
  const env = testEnv({ CONFIG_ENCRYPTION_KEY: randomBytes(32).toString('base64') });
  const names = new Names(env.KRE_PREFIX);
  const rt = 'kube-sleepy';
  const namespace = names.namespace(rt);
  let stack: KubeDeployerStack;
  let apps: AppsV1Api;
  let name: string;

  const replicas = async () =>
    (await apps.listNamespacedDeployment({ namespace })).items
      .map((d) => [d.spec?.replicas, d.metadata?.annotations?.['kre.io/awake-replicas'] ?? null])
      .sort();
  const scaleState = async () => (await stack.plane.versions.find(rt, name))?.scale?.state;

  beforeAll(async () => {
    stack = await startKubeDeployer({
      env,
      runtime: { _id: rt, name: 'Kube sleepy', description: '', createdBy: 'e2e' },
      namespace,
      name: 'kube-serverless-e2e',
    });
    apps = stack.apps;
  }, 180_000);

  afterAll(() => stack?.close());

  it('starts the greeter awake', async () => {
    await stack.plane.runtimeJobs.add('create', { runtimeId: rt, by: 'e2e' });
    await expect
      .poll(async () => (await stack.plane.runtimes.get(rt)).status, { timeout: 30_000 })
      .toBe('CREATED');
    name = await seedGreeter(
      { work: stack.work, prefix: env.KRE_PREFIX, runtimeId: rt, plane: stack.plane },
      'greeter-v1',
    );
    await stack.plane.versions.transition(
      rt,
      name,
      [VersionStatus.CREATED],
      VersionStatus.STARTING,
    );
    await stack.plane.versionJobs.add('start', { runtimeId: rt, versionName: name, by: 'e2e' });
    expect((await stack.settled(name, VersionStatus.STARTING))?.status).toBe(VersionStatus.STARTED);
    expect(await scaleState()).toBe('AWAKE');
    expect(await replicas()).toEqual(Array(4).fill([1, null]));
  }, 120_000);

  it('sleeps after its idle time: every Deployment at 0 replicas, the count kept, the route kept', async () => {
    await stack.plane.versions.setIdleSeconds(rt, name, 2);
    await expect.poll(scaleState, { timeout: 60_000, interval: 200 }).toBe('SLEEPING');
    await expect.poll(replicas, { timeout: 30_000 }).toEqual(Array(4).fill([0, '1']));
    expect((await stack.plane.versions.find(rt, name))?.status).toBe(VersionStatus.STARTED);
    const entry = await (
      await new Kvm(stack.nc).open(names.gatewayBucket())
    ).get(versionRouteKey(rt, name));
    expect(versionRouteSchema.parse(entry?.json())).toMatchObject({ scale: 'SLEEPING' });
  }, 120_000);

  it('wakes on a gateway wake request: the Deployments back to their replicas, AWAKE once available', async () => {
    await stack.plane.versions.setIdleSeconds(rt, name, 0); // stays awake once woken
    const reply = await stack.nc.request(
      names.wakeRequestSubject(),
      JSON.stringify({ runtimeId: rt, versionName: name }),
      { timeout: 10_000 },
    );
    expect(wakeReplySchema.parse(reply.json())).toEqual({ queued: true });
    await expect
      .poll(
        async () => {
          await markDeploymentsAvailable(apps, namespace);
          return scaleState();
        },
        { timeout: 60_000, interval: 250 },
      )
      .toBe('AWAKE');
    expect((await replicas()).map(([n]) => n)).toEqual([1, 1, 1, 1]);
    const bad = await stack.nc.request(
      names.wakeRequestSubject(),
      JSON.stringify({ runtimeId: 'Not A Slug', versionName: name }),
      { timeout: 10_000 },
    );
    expect(wakeReplySchema.parse(bad.json())).toEqual({
      queued: false,
      message: 'runtimeId: must be a runtime id',
    });
  }, 120_000);
});
