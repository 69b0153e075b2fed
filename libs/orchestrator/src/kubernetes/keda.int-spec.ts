import { readFile } from 'node:fs/promises';
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  RbacAuthorizationV1Api,
  loadYaml,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { validateKrtDirectory } from '@libs/krt';
import { startKubernetes, type KubeCluster } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plan, type DeploymentPlan } from '../deployment-plan.js';
import type { ExternallyScaledNode } from '../driver.js';
import { KubernetesDriver } from './kubernetes.driver.js';
import { testOptions } from './options.fixture.js';
import { deployerRbac } from './runtime.manifests.js';

/*
 * KEDA and the deployer's rights, against a real kube-apiserver with KEDA's CRD (a trimmed copy,
 * e2e/kubernetes/fixtures): an installation whose runtime role predates KEDA (no `scaledobjects`)
 * must not lose node autoscaling nor its sleep and stop. The driver runs as the deployer's
 * service account (a TokenRequest token) bound by the driver's own RoleBinding to a role without
 * ScaledObjects.
 */
describe('KEDA with a runtime role that has no ScaledObjects', () => {
  const options = testOptions({
    keda: {
      natsMonitoringEndpoint: 'nats.kre-system.svc:8222',
      account: 'ACCOUNT',
      useHttps: false,
    },
  });
  const policy = { target: 8, upAfterMs: 1_000, coolDownMs: 3_000 };
  let cluster: KubeCluster;
  let admin: KubernetesDriver;
  let deployer: KubernetesDriver;
  let apps: AppsV1Api;
  let greeter: DeploymentPlan;

  beforeAll(async () => {
    cluster = await startKubernetes();
    const kc = new KubeConfig();
    kc.loadFromString(cluster.kubeconfig);
    apps = kc.makeApiClient(AppsV1Api);
    const extensions = kc.makeApiClient(ApiextensionsV1Api);
    const crd = loadYaml<V1CustomResourceDefinition>(
      await readFile('e2e/kubernetes/fixtures/keda-scaledobjects.crd.yaml', 'utf8'),
    );
    await extensions.createCustomResourceDefinition({ body: crd });
    // Served once its storage is ready (until then: HTTP 429 "storage is (re)initializing").
    const custom = kc.makeApiClient(CustomObjectsApi);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const served = await custom
        .listNamespacedCustomObject({
          group: 'keda.sh',
          version: 'v1alpha1',
          namespace: 'default',
          plural: 'scaledobjects',
        })
        .then(
          () => true,
          (error: unknown) => {
            if (Date.now() > deadline) throw error;
            return false;
          },
        );
      if (served) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    // The runtime role as it was before KEDA: Deployments and pods, no keda.sh.
    const rbac = deployerRbac(options);
    await kc.makeApiClient(RbacAuthorizationV1Api).createClusterRole({
      body: {
        metadata: { name: rbac.clusterRole },
        rules: [
          {
            apiGroups: [''],
            resources: ['serviceaccounts', 'resourcequotas', 'limitranges'],
            verbs: ['create', 'patch'],
          },
          {
            apiGroups: ['networking.k8s.io'],
            resources: ['networkpolicies'],
            verbs: ['create', 'patch'],
          },
          { apiGroups: [''], resources: ['secrets'], verbs: ['create', 'patch', 'list', 'delete'] },
          {
            apiGroups: [''],
            resources: ['services'],
            verbs: ['create', 'patch', 'get', 'list', 'delete'],
          },
          {
            apiGroups: ['apps'],
            resources: ['deployments'],
            verbs: ['create', 'patch', 'list', 'watch', 'delete'],
          },
          {
            apiGroups: ['networking.k8s.io'],
            resources: ['ingresses'],
            verbs: ['create', 'patch', 'get', 'delete'],
          },
          { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
        ],
      },
    });
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: options.installationNamespace } } });
    await core.createNamespacedServiceAccount({
      namespace: options.installationNamespace,
      body: { metadata: { name: rbac.serviceAccount } },
    });
    const token = await core.createNamespacedServiceAccountToken({
      name: rbac.serviceAccount,
      namespace: options.installationNamespace,
      body: { spec: { audiences: [], expirationSeconds: 3_600 } },
    });
    const cl = kc.getCurrentCluster()!;
    const asDeployer = new KubeConfig();
    asDeployer.loadFromOptions({
      clusters: [cl],
      users: [{ name: 'deployer', token: token.status?.token }],
      contexts: [{ name: 'deployer', cluster: cl.name, user: 'deployer' }],
      currentContext: 'deployer',
    });
    admin = await KubernetesDriver.create(kc, options);
    deployer = await KubernetesDriver.create(asDeployer, options);

    const { krt } = await validateKrtDirectory('examples/greeter');
    greeter = plan({
      prefix: 'kre',
      runtimeId: 'rt',
      krt,
      natsUrl: options.workloadNatsUrl,
      config: { variables: { GREETING: 'Hello' }, files: {} },
      requestTimeoutSeconds: 30,
    });
    // Namespace and RoleBinding as the runtime job makes them (the admin: it may bind the role).
    await admin.apply(greeter);
  }, 180_000);

  afterAll(async () => {
    await admin?.close();
    await deployer?.close();
    await cluster?.stop();
  });

  it('finds KEDA, is refused a ScaledObject, says what the role lacks, and scales nodes itself meanwhile', async () => {
    const keda = await deployer.externalAutoscaler();
    expect(keda?.kind).toBe('keda');
    const node = greeter.workloads.find((w) => w.role === 'node')!;
    const nodes: ExternallyScaledNode[] = [
      {
        workload: node,
        bounds: { min: 1, max: 3 },
        inputs: [{ stream: 'KRE_rt_greeter-v1_greet', consumer: `${node.id}_entrypoint` }],
      },
    ];
    await expect(keda!.scale('rt', greeter.versionName, nodes, policy)).rejects.toThrow(
      'the deployer may not write ScaledObjects in kre-rt (its runtime role needs keda.sh scaledobjects: create, patch, list, delete); it scales nodes itself and tries again in 60 s',
    );
    expect(await deployer.externalAutoscaler()).toBeNull();
    // The admin (who may) is still handed KEDA: the refusal was the role's, not the cluster's.
    expect((await admin.externalAutoscaler())?.kind).toBe('keda');
  });

  it('still sleeps and stops the version (no ScaledObject it could have made)', async () => {
    const deployments = async () =>
      (
        await apps.listNamespacedDeployment({
          namespace: 'kre-rt',
          labelSelector: `kre.io/version=${greeter.versionName}`,
        })
      ).items;
    expect(await deployer.release('rt', greeter.versionName)).toBe(4);
    expect((await deployments()).map((d) => d.spec?.replicas)).toEqual([0, 0, 0, 0]);
    await deployer.stop('rt', greeter.versionName);
    expect(await deployments()).toEqual([]);
  }, 150_000);
});
