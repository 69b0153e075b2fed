import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Status,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KubeCluster, startKubernetes } from './kube.js';
import { testPrefix } from './test-env.js';

/** Polls `check` until it returns true (or fails the test after `timeoutMs`). */
async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} within ${timeoutMs} ms`);
}

/** The API server's refusal of `call`: the HTTP code and the Status object it answered. */
async function refusal(call: Promise<unknown>): Promise<{ code: number; status: V1Status }> {
  try {
    await call;
  } catch (error) {
    if (error instanceof ApiException) {
      return { code: error.code, status: JSON.parse(String(error.body)) as V1Status };
    }
    throw error;
  }
  throw new Error('the API server accepted the request');
}

async function gone(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return false;
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return true;
    throw error;
  }
}

describe(startKubernetes.name, () => {
  let cluster: KubeCluster;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  const prefix = testPrefix();

  beforeAll(async () => {
    cluster = await startKubernetes();
    // On the 2-core dev machine: ~4-5 s (pki 0.1-0.2, etcd 0.3-0.7, kube-apiserver 3-3.8,
    // kube-controller-manager 0.2-0.3); stop() ~1.2 s. Logged on every run.
    process.stdout.write(
      `kube: control plane ready in ${cluster.startup.totalMs} ms ${JSON.stringify(cluster.startup.phasesMs)}\n`,
    );
    const kc = new KubeConfig();
    kc.loadFromString(cluster.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
  });

  afterAll(async () => {
    const stopping = Date.now();
    await cluster?.stop();
    process.stdout.write(`kube: stopped in ${Date.now() - stopping} ms\n`);
  });

  const namespace = async (name: string, labels: Record<string, string> = {}) =>
    core.createNamespace({ body: { metadata: { name: `${prefix}-${name}`, labels } } });

  it('answers on https://127.0.0.1 with a kubeconfig for a system:masters admin', async () => {
    expect(cluster.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(cluster.kubeconfig).toContain(cluster.server);
    const { items } = await core.listNamespace();
    expect(items.map((n) => n.metadata?.name)).toEqual(
      expect.arrayContaining(['default', 'kube-system']),
    );
    const service = await core.readNamespacedService({ name: 'kubernetes', namespace: 'default' });
    expect(service.spec?.clusterIP).toBe('10.0.0.1');
  });

  it('validates: an invalid Deployment is refused with a 422 that names the field', async () => {
    const ns = (await namespace('validate')).metadata!.name!;
    const { code, status } = await refusal(
      apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name: 'bad' },
          spec: {
            replicas: -1,
            selector: { matchLabels: { app: 'bad' } },
            template: {
              metadata: { labels: { app: 'bad' } },
              spec: { containers: [{ name: 'c', image: 'busybox' }] },
            },
          },
        },
      }),
    );
    expect(code).toBe(422);
    expect(status.reason).toBe('Invalid');
    expect(status.message).toContain('spec.replicas: Invalid value: -1');
    expect(status.details?.causes?.map((c) => c.field)).toEqual(['spec.replicas']);
  });

  it('enforces PodSecurity: a restricted namespace refuses a privileged pod', async () => {
    const ns = (
      await namespace('restricted', { 'pod-security.kubernetes.io/enforce': 'restricted' })
    ).metadata!.name!;
    const { code, status } = await refusal(
      core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: { name: 'privileged' },
          spec: {
            containers: [{ name: 'c', image: 'busybox', securityContext: { privileged: true } }],
          },
        },
      }),
    );
    expect(code).toBe(403);
    expect(status.message).toContain('violates PodSecurity "restricted:latest"');
    expect(status.message).toContain('must not set securityContext.privileged=true');
  });

  it('deletes a namespace with objects in it for real (namespace controller)', async () => {
    const ns = (await namespace('doomed')).metadata!.name!;
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'settings' }, data: { a: '1' } },
    });
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'token' }, stringData: { t: 'x' } },
    });
    await core.createNamespacedService({
      namespace: ns,
      body: { metadata: { name: 'svc' }, spec: { ports: [{ port: 80 }], selector: { a: 'b' } } },
    });
    await core.createNamespacedPod({
      namespace: ns,
      body: { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
    });

    await core.deleteNamespace({ name: ns });
    await eventually(`namespace ${ns} was not gone`, () =>
      gone(() => core.readNamespace({ name: ns })),
    );
  });

  it('garbage-collects an owner-referenced ConfigMap once its owner is deleted', async () => {
    const ns = (await namespace('gc')).metadata!.name!;
    const owner = await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'owner' } },
    });
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: {
        metadata: {
          name: 'dependent',
          ownerReferences: [
            { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata!.uid! },
          ],
        },
      },
    });
    await core.deleteNamespacedConfigMap({ name: 'owner', namespace: ns });
    await eventually('the dependent ConfigMap was not garbage-collected', () =>
      gone(() => core.readNamespacedConfigMap({ name: 'dependent', namespace: ns })),
    );
  });
});
