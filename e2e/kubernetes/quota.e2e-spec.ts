import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { VersionStatus } from '@libs/core';
import { versionRouteKey } from '@libs/messaging';
import { jetstreamManager } from '@nats-io/jetstream';
import { Names } from '@libs/naming';
import { testEnv } from '@libs/testing';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedGreeter, type ControlPlane } from '../deployer-harness.js';
import { startKubeDeployer, type KubeDeployerStack } from './kube-deployer-harness.js';

const MI = 2 ** 20;

/**
 * The runtime's quota through the deployer process (ORCHESTRATOR=kubernetes, a real API server
 * and NATS): the namespace's ResourceQuota and the containers' limits as the API server stores
 * them, a start over the quota refused with what exceeds and by how much and nothing of it made,
 * and the same start going through once a platform admin raised the quota.
 */
describe("a runtime's quota, enforced by the deployer", () => {
  const env = testEnv({ CONFIG_ENCRYPTION_KEY: randomBytes(32).toString('base64') });
  const names = new Names(env.KRE_PREFIX);
  const rt = 'quota-rt';
  const namespace = names.namespace(rt);
  // greeter: an entrypoint and three nodes in one workflow.
  const quota = {
    replicas: 6,
    memoryBytes: 2_048 * MI,
    cpuMillis: 2_000,
    gpus: 0,
    storageBytes: 1_024 * MI,
  };
  let stack: KubeDeployerStack;
  let apps: AppsV1Api;
  let core: CoreV1Api;
  let work: string;
  let nc: NatsConnection;
  let plane: ControlPlane;

  const settled = (name: string, transitional: VersionStatus) => stack.settled(name, transitional);
  const start = async (name: string, from: VersionStatus) => {
    await plane.versions.transition(rt, name, [from], VersionStatus.STARTING);
    await plane.versionJobs.add('start', { runtimeId: rt, versionName: name, by: 'e2e' });
    return settled(name, VersionStatus.STARTING);
  };
  const deploymentsOf = async (name: string) =>
    (await apps.listNamespacedDeployment({ namespace, labelSelector: `kre.io/version=${name}` }))
      .items;
  const hard = async () =>
    (await core.readNamespacedResourceQuota({ name: 'kre-quota', namespace })).spec?.hard;

  beforeAll(async () => {
    stack = await startKubeDeployer({
      env,
      runtime: { _id: rt, name: 'Quota', description: '', createdBy: 'e2e', quota },
      namespace,
      name: 'quota-e2e',
      deployerEnv: {
        KUBE_RESOURCE_QUOTA: '{}',
        // Each replica without resources of its own: 256Mi and a quarter of a CPU.
        WORKLOAD_MEMORY_MB: '256',
        WORKLOAD_CPUS: '0.25',
        WORKFLOW_STREAM_MAX_SIZE: '64Mi',
        KV_BUCKET_MAX_SIZE: '8Mi',
      },
    });
    ({ apps, core, nc, plane, work } = stack);
  }, 180_000);

  afterAll(() => stack?.close());

  it("gives the runtime's namespace a ResourceQuota from its quota", async () => {
    await plane.runtimeJobs.add('create', { runtimeId: rt, by: 'e2e' });
    await expect
      .poll(async () => (await plane.runtimes.get(rt)).status, { timeout: 30_000 })
      .toBe('CREATED');
    expect(await hard()).toEqual({
      pods: '6',
      'limits.memory': '2Gi',
      'limits.cpu': '2',
      'requests.nvidia.com/gpu': '0',
    });
  });

  it("starts a version within the quota: each container limited by its node's resources, else the default", async () => {
    const name = await seedGreeter(
      { work, prefix: env.KRE_PREFIX, runtimeId: rt, plane },
      'sized-v1',
      async (dir) => {
        const manifest = join(dir, 'kre.yaml');
        const text = await readFile(manifest, 'utf8');
        const sized = text.replace(
          '    src: src/make-greeting/handler.mjs\n',
          '    src: src/make-greeting/handler.mjs\n    resources: {memory: 512Mi, cpu: 500m}\n',
        );
        expect(sized).not.toBe(text);
        await writeFile(manifest, sized);
      },
    );
    // 4 replicas, 3 × 256Mi + 512Mi = 1280Mi, 3 × 250m + 500m = 1250m, one 64Mi stream.
    expect(await start(name, VersionStatus.CREATED)).toEqual({
      status: VersionStatus.STARTED,
      message: undefined,
    });
    const limits: Record<string, unknown> = Object.fromEntries(
      (await deploymentsOf(name)).map((d): [string, unknown] => [
        d.metadata?.annotations?.['kre.io/workload'] ?? '',
        d.spec?.template.spec?.containers[0].resources?.limits,
      ]),
    );
    expect(limits).toEqual({
      entrypoint: { memory: '256Mi', cpu: '250m' },
      'greet.clean-name': { memory: '256Mi', cpu: '250m' },
      'greet.make-greeting': { memory: '512Mi', cpu: '500m' },
      'greet.format-reply': { memory: '256Mi', cpu: '250m' },
    });
    const stream = await (
      await jetstreamManager(nc)
    ).streams.info(names.workflowStream(rt, name, 'greet'));
    expect(stream.config.max_bytes).toBe(64 * MI);
    const bucket = await (
      await jetstreamManager(nc)
    ).streams.info(`KV_${names.projectBucket(rt, name)}`);
    expect(bucket.config.max_bytes).toBe(8 * MI);
  });

  it('refuses a start over the quota, naming what exceeds and by how much, and makes nothing of it', async () => {
    const name = await seedGreeter(
      { work, prefix: env.KRE_PREFIX, runtimeId: rt, plane },
      'plain-v2',
    );
    // Beside sized-v1: 8 replicas of 6, 2304Mi of 2Gi; CPU (2250m of 2) too.
    const result = await start(name, VersionStatus.CREATED);
    expect(result?.status).toBe(VersionStatus.ERROR);
    expect(result?.message).toBe(
      `start failed: starting "${name}" would exceed the quota of runtime "${rt}": ` +
        "replicas: this version needs 4, the runtime's other versions hold 4, the quota is 6 (2 over); " +
        "memory: this version needs 1Gi, the runtime's other versions hold 1280Mi, the quota is 2Gi (256Mi over); " +
        "CPU: this version needs 1, the runtime's other versions hold 1250m, the quota is 2 (250m over). " +
        "Stop another version, lower the KRT's replicas or resources, or ask a platform admin to raise the quota",
    );
    // Nothing of it: no objects, streams, buckets, KRT copy or route.
    expect(await deploymentsOf(name)).toEqual([]);
    const secrets = await core.listNamespacedSecret({
      namespace,
      labelSelector: `kre.io/version=${name}`,
    });
    expect(secrets.items).toEqual([]);
    const jsm = await jetstreamManager(nc);
    await expect(jsm.streams.info(names.workflowStream(rt, name, 'greet'))).rejects.toThrow(
      /stream not found/,
    );
    await expect(jsm.streams.info(`KV_${names.projectBucket(rt, name)}`)).rejects.toThrow(
      /stream not found/,
    );
    const krtCopies = await new Objm(nc).open(names.krtBucket(rt));
    expect(await krtCopies.info(name)).toBeNull();
    const routes = await new Kvm(nc).open(names.gatewayBucket());
    expect(await routes.get(versionRouteKey(rt, name))).toBeNull();
  });

  it("starts it once a platform admin raised the quota, and the namespace's ResourceQuota follows", async () => {
    await plane.runtimes.setQuota(rt, {
      ...quota,
      replicas: 8,
      memoryBytes: 4_096 * MI,
      cpuMillis: 3_000,
    });
    expect(await start('plain-v2', VersionStatus.ERROR)).toEqual({
      status: VersionStatus.STARTED,
      message: undefined,
    });
    expect(await deploymentsOf('plain-v2')).toHaveLength(4);
    expect(await hard()).toEqual({
      pods: '8',
      'limits.memory': '4Gi',
      'limits.cpu': '3',
      'requests.nvidia.com/gpu': '0',
    });
  });
});
