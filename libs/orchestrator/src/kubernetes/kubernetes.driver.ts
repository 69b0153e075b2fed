import type * as K8s from '@kubernetes/client-node';
import type {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObject,
  KubernetesObjectApi,
  V1Deployment,
  V1Pod,
} from '@kubernetes/client-node';
import type { RuntimeQuota } from '@libs/core';
import { Names } from '@libs/naming';
import { type DeploymentPlan, ENTRYPOINT_WORKLOAD } from '../deployment-plan.js';
import {
  WorkloadsNotReadyError,
  type ApplyOptions,
  type ExternalAutoscaler,
  type ExternallyScaledNode,
  type OrchestratorDriver,
  type ReplicaStatus,
  type VersionEndpoints,
  type VersionUsage,
} from '../driver.js';
import type { AutoscalerOptions } from '../scaling/replica-autoscaler.js';
import {
  KEDA_API_GROUP,
  KEDA_API_VERSION,
  SCALED_OBJECTS,
  SCALED_OBJECT_KIND,
  scaledObjectManifest,
} from './keda.manifests.js';
import type { KubernetesDriverOptions } from './kubernetes.options.js';
import { type PodMetrics, replicaUsageOf } from './pod-metrics.js';
import { runtimeManifests } from './runtime.manifests.js';
import {
  COMPONENT_LABEL,
  PUBLISHED_SERVICE,
  PUBLISHED_VERSION_ANNOTATION,
  publishedManifests,
  serviceAddresses,
  versionManifests,
  WORKLOAD_ANNOTATION,
} from './version.manifests.js';

const POLL_MS = 250;
/** How long a discovery of KEDA's API holds: a CRD installed later is found within it. */
const KEDA_DISCOVERY_MS = 10_000;
/** After RBAC refused a ScaledObject: how long the deployer scales nodes itself before retrying. */
const KEDA_FORBIDDEN_MS = 60_000;
const GONE_TIMEOUT_MS = 120_000;

/** The Kubernetes client, loaded when a driver is made: `runner fetch-krt` imports this lib too. */
type KubernetesClient = typeof K8s;

/** An `ApiException` of the client (told apart by shape: the client module loads lazily). */
function apiError(error: unknown): { code: number; body: unknown } | null {
  if (typeof error !== 'object' || error === null) return null;
  const { code, body } = error as { code?: unknown; body?: unknown };
  return typeof code === 'number' && 'body' in error ? { code, body } : null;
}

const isNotFound = (error: unknown) => apiError(error)?.code === 404;

/**
 * A plan applied to a released version: its Deployments stay at 0 replicas, with the planned
 * count kept for `resume` as `release` keeps it.
 */
function keepReleased(manifests: readonly KubernetesObject[]): void {
  for (const object of manifests) {
    if (object.kind !== 'Deployment') continue;
    const deployment = object as V1Deployment;
    deployment.metadata!.annotations = {
      ...deployment.metadata!.annotations,
      [AWAKE_REPLICAS_ANNOTATION]: String(deployment.spec?.replicas ?? 1),
    };
    deployment.spec!.replicas = 0;
  }
}

/** A version's entrypoint Deployment (only Deployments and pods carry the workload annotation). */
function isEntrypoint(object: KubernetesObject): boolean {
  return object.metadata?.annotations?.[WORKLOAD_ANNOTATION] === ENTRYPOINT_WORKLOAD;
}

/** Content type of server-side apply (`PatchStrategy.ServerSideApply`). */
const SERVER_SIDE_APPLY = 'application/apply-patch+yaml' satisfies K8s.PatchStrategy;

/** Content type of a JSON merge patch (`PatchStrategy.MergePatch`). */
const MERGE_PATCH = 'application/merge-patch+json' satisfies K8s.PatchStrategy;
/** On a released (scaled to zero) Deployment: the replicas it had, which `resume` restores. */
export const AWAKE_REPLICAS_ANNOTATION = 'kre.io/awake-replicas';

/** The kinds a version owns, deleted by label on stop. */
const VERSION_KINDS = [
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'v1', kind: 'Secret' },
] as const;

/** The API server's own message (`Status.message`) of a failed call, else the error's. */
function apiReason(error: unknown): string {
  const api = apiError(error);
  if (api) {
    try {
      const status = JSON.parse(String(api.body)) as { message?: unknown };
      if (typeof status.message === 'string') return `${status.message} (HTTP ${api.code})`;
    } catch {
      // not a Status document
    }
    return `HTTP ${api.code}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** True when every replica of the Deployment runs its current template and is available. */
function deploymentReady(deployment: V1Deployment): boolean {
  const want = deployment.spec?.replicas ?? 1;
  const status = deployment.status;
  if (!status) return false;
  return (
    (status.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 1) &&
    (status.updatedReplicas ?? 0) >= want &&
    (status.availableReplicas ?? 0) >= want &&
    (status.replicas ?? 0) <= want
  );
}

/** How one pod is doing, in the terms of the local driver. */
function podStatus(pod: V1Pod, replica: number): ReplicaStatus {
  const workloadId = pod.metadata?.annotations?.[WORKLOAD_ANNOTATION] ?? pod.metadata?.name ?? '?';
  const main = pod.status?.containerStatuses?.[0];
  const init = pod.status?.initContainerStatuses?.[0];
  const restarts = (main?.restartCount ?? 0) + (init?.restartCount ?? 0);
  const waiting = main?.state?.waiting ?? init?.state?.waiting;
  const terminated = main?.lastState?.terminated ?? init?.lastState?.terminated;
  let state: ReplicaStatus['state'] = 'STARTING';
  if (pod.metadata?.deletionTimestamp || ['Failed', 'Succeeded'].includes(pod.status?.phase ?? ''))
    state = 'STOPPED';
  else if (main?.ready) state = 'RUNNING';
  else if (restarts > 0) state = 'RESTARTING';
  const message = terminated
    ? `exited with code ${terminated.exitCode}${terminated.reason ? ` (${terminated.reason})` : ''}${terminated.message ? `: ${terminated.message}` : ''}`
    : waiting?.reason
      ? `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`
      : undefined;
  return { workloadId, replica, state, restarts, ...(message ? { message } : {}) };
}

/**
 * Runs deployment plans on Kubernetes: a namespace per runtime (prepared by the runtime jobs),
 * the version's objects applied with server-side apply (applying twice changes nothing), readiness
 * from Deployment availability, node status from pods. The cluster keeps the state: a deployer
 * restart has nothing to adopt.
 */
export class KubernetesDriver implements OrchestratorDriver {
  readonly installsDependencies = 'workload';
  private readonly objects: KubernetesObjectApi;
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly names: Names;
  private kedaSeen?: { at: number; served: boolean };
  private kedaForbiddenUntil = 0;
  private readonly keda: ExternalAutoscaler = {
    kind: 'keda',
    scale: (runtimeId, versionName, nodes, policy) =>
      this.scaleWithKeda(runtimeId, versionName, nodes, policy),
  };
  private readonly watches = new Set<AbortController>();

  private constructor(
    private readonly k8s: KubernetesClient,
    private readonly kubeConfig: KubeConfig,
    private readonly options: KubernetesDriverOptions,
  ) {
    this.objects = k8s.KubernetesObjectApi.makeApiClient(kubeConfig);
    this.core = kubeConfig.makeApiClient(k8s.CoreV1Api);
    this.custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    this.names = new Names(options.prefix);
  }

  /** A driver for the cluster found by KUBECONFIG, ~/.kube/config or the pod's service account. */
  static async fromEnvironment(options: KubernetesDriverOptions): Promise<KubernetesDriver> {
    const k8s = await import('@kubernetes/client-node');
    const kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromDefault();
    return new KubernetesDriver(k8s, kubeConfig, options);
  }

  /** A driver for the cluster of `kubeConfig` (loads the Kubernetes client). */
  static async create(
    kubeConfig: KubeConfig,
    options: KubernetesDriverOptions,
  ): Promise<KubernetesDriver> {
    return new KubernetesDriver(await import('@kubernetes/client-node'), kubeConfig, options);
  }

  /**
   * Creates or updates the runtime's namespace, account, network policies, quota (the
   * runtime's `quota` over KUBE_RESOURCE_QUOTA) and limits.
   */
  async prepareRuntime(runtimeId: string, quota?: RuntimeQuota): Promise<void> {
    for (const object of runtimeManifests(this.options, runtimeId, quota))
      await this.serverSideApply(object);
  }

  /** Deletes the runtime's namespace (with everything in it) and waits until it is gone. */
  async removeRuntime(runtimeId: string): Promise<void> {
    const name = this.names.namespace(runtimeId);
    try {
      await this.core.deleteNamespace({ name });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    await this.waitGone(`namespace ${name}`, async () => {
      try {
        await this.core.readNamespace({ name });
        return false;
      } catch (error) {
        if (isNotFound(error)) return true;
        throw error;
      }
    });
  }

  async apply(plan: DeploymentPlan, options: ApplyOptions = {}): Promise<void> {
    // Rendering refuses unsupported images before anything is written.
    const manifests = versionManifests(this.options, plan);
    await this.prepareRuntime(plan.runtimeId, plan.quota);
    if (options.released) keepReleased(manifests);
    else await this.keepScaledReplicas(plan, manifests);
    for (const object of manifests) await this.serverSideApply(object);
    // Workloads of an earlier plan of this version that this one no longer has.
    const wanted = new Set(manifests.map((m) => `${m.kind}/${m.metadata?.name}`));
    for (const object of await this.versionObjects(plan.runtimeId, plan.versionName)) {
      if (!wanted.has(`${object.kind}/${object.metadata?.name}`)) await this.deleteObject(object);
    }
  }

  async waitReady(runtimeId: string, versionName: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const namespace = this.names.namespace(runtimeId);
    const labelSelector = this.versionSelector(runtimeId, versionName);
    while (Date.now() < deadline) {
      const list = await this.objects.list<V1Deployment>(
        'apps/v1',
        'Deployment',
        namespace,
        undefined,
        undefined,
        undefined,
        undefined,
        labelSelector,
      );
      const deployments = new Map(list.items.map((d) => [d.metadata!.name!, d]));
      if (deployments.size === 0)
        throw new WorkloadsNotReadyError(`${runtimeId}/${versionName} has no workloads`);
      if ([...deployments.values()].every(deploymentReady)) return;
      const ready = await this.watchUntil(
        `/apis/apps/v1/namespaces/${namespace}/deployments`,
        { labelSelector, resourceVersion: list.metadata?.resourceVersion },
        deadline,
        (type, deployment: V1Deployment) => {
          if (type === 'DELETED') deployments.delete(deployment.metadata!.name!);
          else deployments.set(deployment.metadata!.name!, deployment);
          return deployments.size > 0 && [...deployments.values()].every(deploymentReady);
        },
      );
      if (ready) return;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS)); // a watch that ended early
    }
    const status = await this.status(runtimeId, versionName);
    const problems = status
      .filter((s) => s.state !== 'RUNNING')
      .map((s) => `${s.workloadId}#${s.replica} ${s.state}${s.message ? `: ${s.message}` : ''}`);
    throw new WorkloadsNotReadyError(
      `${runtimeId}/${versionName}: workloads not available after ${Math.round(timeoutMs / 1_000)} s` +
        (problems.length > 0 ? ` (${problems.join('; ')})` : ' (no pods were created)'),
    );
  }

  /**
   * Scale to zero: each of the version's Deployments to 0 replicas, the count it had kept in the
   * annotation `kre.io/awake-replicas` for `resume`; Services, Secrets and the published Service
   * stay. Resolves once no pod of the version is left.
   */
  async release(runtimeId: string, versionName: string): Promise<number> {
    // KEDA would scale them up again: its ScaledObjects go first.
    await this.removeScaledObjects(runtimeId, versionName);
    let released = 0;
    const deployments = await this.deployments(runtimeId, versionName);
    const release = async (deployment: V1Deployment) => {
      const current = deployment.spec?.replicas ?? 1;
      const kept = Number(deployment.metadata?.annotations?.[AWAKE_REPLICAS_ANNOTATION]);
      const awake = current > 0 ? current : Number.isInteger(kept) && kept > 0 ? kept : 1;
      released += awake;
      if (current === 0) return;
      await this.mergePatch(deployment, {
        metadata: { annotations: { [AWAKE_REPLICAS_ANNOTATION]: String(awake) } },
        spec: { replicas: 0 },
      });
    };
    await this.entrypointFirst(deployments, release, (entrypoint) =>
      this.waitPodsGone(runtimeId, versionName, entrypoint),
    );
    return released;
  }

  /**
   * Ends the entrypoint before the nodes (`end` scales a Deployment to zero or deletes it, then
   * `ended` waits for what it ended to be gone): on SIGTERM the entrypoint finishes the requests
   * in progress, within its grace period, which needs the nodes still running. Ending them all
   * at once cut off a request that reached the entrypoint just before a sleep or a stop (the
   * local driver ends its processes in the same order).
   */
  private async entrypointFirst<T extends KubernetesObject>(
    objects: readonly T[],
    end: (object: T) => Promise<void>,
    ended: (entrypoint: boolean, group: readonly T[]) => Promise<void>,
  ): Promise<void> {
    for (const entrypoint of [true, false]) {
      const group = objects.filter((o) => isEntrypoint(o) === entrypoint);
      for (const object of group) await end(object);
      await ended(entrypoint, group);
    }
  }

  /** Resolves once no pod of the version (or of its entrypoint) is left. */
  private waitPodsGone(runtimeId: string, versionName: string, entrypoint: boolean) {
    const version = this.versionSelector(runtimeId, versionName);
    return this.waitGone(`the pods of ${runtimeId}/${versionName}`, async () => {
      const pods = await this.core.listNamespacedPod({
        namespace: this.names.namespace(runtimeId),
        labelSelector: entrypoint ? `${version},${COMPONENT_LABEL}=entrypoint` : version,
      });
      return pods.items.length === 0;
    });
  }

  /** Each Deployment back to the replicas `release` kept; `waitReady` tells when they serve. */
  async resume(runtimeId: string, versionName: string): Promise<number> {
    const deployments = await this.deployments(runtimeId, versionName);
    if (deployments.length === 0)
      throw new WorkloadsNotReadyError(`${runtimeId}/${versionName} has no workloads to resume`);
    let resumed = 0;
    for (const deployment of deployments) {
      const current = deployment.spec?.replicas ?? 1;
      const kept = Number(deployment.metadata?.annotations?.[AWAKE_REPLICAS_ANNOTATION]);
      const awake = current > 0 ? current : Number.isInteger(kept) && kept > 0 ? kept : 1;
      resumed += awake;
      if (current === awake) continue;
      await this.mergePatch(deployment, { spec: { replicas: awake } });
    }
    return resumed;
  }

  async stop(runtimeId: string, versionName: string): Promise<void> {
    await this.unpublish(runtimeId, versionName);
    await this.removeScaledObjects(runtimeId, versionName);
    const objects = await this.versionObjects(runtimeId, versionName);
    await this.entrypointFirst(
      objects,
      (object) => this.deleteObject(object),
      // Deleted in the foreground: a Deployment is gone once its pods are.
      (entrypoint, group) =>
        entrypoint
          ? this.waitGone(`the entrypoint of ${runtimeId}/${versionName}`, async () => {
              const left = await this.deployments(runtimeId, versionName);
              return !left.some((d) => group.some((o) => o.metadata?.name === d.metadata?.name));
            })
          : Promise.resolve(),
    );
    await this.waitGone(`the objects of ${runtimeId}/${versionName}`, async () => {
      return (await this.versionObjects(runtimeId, versionName)).length === 0;
    });
  }

  /** Points the runtime's stable Service (and Ingress) at this version. */
  async publish(runtimeId: string, versionName: string): Promise<void> {
    for (const object of publishedManifests(this.options, runtimeId, versionName))
      await this.serverSideApply(object);
  }

  /** Removes the stable Service and Ingress if they point at this version. */
  async unpublish(runtimeId: string, versionName: string): Promise<void> {
    const namespace = this.names.namespace(runtimeId);
    for (const kind of [
      { apiVersion: 'v1', kind: 'Service' },
      { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' },
    ]) {
      const header = { ...kind, metadata: { name: PUBLISHED_SERVICE, namespace } };
      let current: KubernetesObject;
      try {
        current = await this.objects.read(header);
      } catch (error) {
        if (isNotFound(error)) continue;
        throw error;
      }
      if (current.metadata?.annotations?.[PUBLISHED_VERSION_ANNOTATION] === versionName)
        await this.deleteObject(header);
    }
  }

  async status(runtimeId: string, versionName: string): Promise<ReplicaStatus[]> {
    const pods = await this.core.listNamespacedPod({
      namespace: this.names.namespace(runtimeId),
      labelSelector: this.versionSelector(runtimeId, versionName),
    });
    const byWorkload = new Map<string, V1Pod[]>();
    for (const pod of pods.items) {
      const id = pod.metadata?.annotations?.[WORKLOAD_ANNOTATION] ?? '?';
      byWorkload.set(id, [...(byWorkload.get(id) ?? []), pod]);
    }
    return [...byWorkload.values()].flatMap((list) =>
      list
        .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''))
        .map((pod, replica) => podStatus(pod, replica)),
    );
  }

  /**
   * Each replica's CPU and memory from the cluster's metrics API (`metrics.k8s.io`, served by
   * metrics-server), restarts from its pod; `available: false`, saying so, when the cluster has
   * no metrics API.
   */
  async usage(runtimeId: string, versionName: string): Promise<VersionUsage> {
    const namespace = this.names.namespace(runtimeId);
    const labelSelector = this.versionSelector(runtimeId, versionName);
    const pods = await this.core.listNamespacedPod({ namespace, labelSelector });
    const byWorkload = new Map<string, V1Pod[]>();
    for (const pod of pods.items) {
      const id = pod.metadata?.annotations?.[WORKLOAD_ANNOTATION] ?? '?';
      byWorkload.set(id, [...(byWorkload.get(id) ?? []), pod]);
    }
    const replicas = [...byWorkload.values()].flatMap((list) =>
      list
        .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''))
        .map((pod, replica) => ({ ...podStatus(pod, replica), pod: pod.metadata?.name ?? '' })),
    );
    const custom = this.kubeConfig.makeApiClient(this.k8s.CustomObjectsApi);
    let metrics: PodMetrics[];
    try {
      const list = (await custom.listNamespacedCustomObject({
        group: 'metrics.k8s.io',
        version: 'v1beta1',
        namespace,
        plural: 'pods',
        labelSelector,
      })) as { items?: PodMetrics[] };
      metrics = list.items ?? [];
    } catch (error) {
      if (!isNotFound(error) && apiError(error)?.code !== 503) throw error;
      return {
        available: false,
        source: 'metrics-api',
        reason:
          'the cluster has no metrics API (metrics.k8s.io, e.g. metrics-server): restarts only',
        replicas: replicaUsageOf(replicas, []),
      };
    }
    return { available: true, source: 'metrics-api', replicas: replicaUsageOf(replicas, metrics) };
  }

  async endpoints(runtimeId: string, versionName: string): Promise<VersionEndpoints | null> {
    try {
      await this.core.readNamespacedService({
        name: this.names.k8sObject(versionName),
        namespace: this.names.namespace(runtimeId),
      });
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
    return serviceAddresses(this.options.prefix, runtimeId, versionName);
  }

  /**
   * KEDA, when the driver is given its settings (`keda`) and the API serves
   * `scaledobjects.keda.sh` (discovery, checked again every 10 s).
   */
  async externalAutoscaler(): Promise<ExternalAutoscaler | null> {
    if (!this.options.keda) return null;
    const now = Date.now();
    if (now < this.kedaForbiddenUntil) return null;
    if (!this.kedaSeen || now - this.kedaSeen.at >= KEDA_DISCOVERY_MS) {
      let served = false;
      try {
        const list = await this.custom.getAPIResources({
          group: KEDA_API_GROUP,
          version: KEDA_API_VERSION,
        });
        served = list.resources.some((r) => r.name === SCALED_OBJECTS);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      this.kedaSeen = { at: now, served };
    }
    return this.kedaSeen.served ? this.keda : null;
  }

  /** The cluster is the state: nothing to take over, but fail early if it cannot be reached. */
  async adopt(): Promise<void> {
    await this.core.listNamespace({
      labelSelector: 'app.kubernetes.io/managed-by=kre-deployer',
      limit: 1,
    });
  }

  close(): Promise<void> {
    for (const watch of this.watches) watch.abort();
    this.watches.clear();
    return Promise.resolve();
  }

  /**
   * A ScaledObject for each of `nodes` (named as its Deployment), and none for the version's
   * other nodes.
   */
  private async scaleWithKeda(
    runtimeId: string,
    versionName: string,
    nodes: readonly ExternallyScaledNode[],
    policy: AutoscalerOptions,
  ): Promise<void> {
    const keda = this.options.keda;
    if (!keda) throw new Error('KEDA is not configured for this driver');
    const namespace = this.names.namespace(runtimeId);
    const wanted = nodes
      .filter((node) => node.inputs.length > 0) // KEDA needs a trigger
      .map((node) => scaledObjectManifest(keda, namespace, node, policy));
    try {
      for (const object of wanted) await this.serverSideApply(object);
      const names = new Set(wanted.map((object) => object.metadata?.name));
      for (const object of await this.scaledObjects(runtimeId, versionName))
        if (!names.has(object.metadata?.name)) await this.deleteObject(object);
    } catch (error) {
      const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
      if (apiError(cause)?.code !== 403) throw error;
      // An installation whose role predates KEDA: the deployer keeps scaling nodes itself.
      this.kedaForbiddenUntil = Date.now() + KEDA_FORBIDDEN_MS;
      throw new Error(
        `the deployer may not write ScaledObjects in ${namespace} (its runtime role needs keda.sh scaledobjects: create, patch, list, delete); it scales nodes itself and tries again in ${KEDA_FORBIDDEN_MS / 1_000} s`,
        { cause: error },
      );
    }
  }

  /** The version's ScaledObjects (none where KEDA is not configured or not served). */
  private async scaledObjects(runtimeId: string, versionName: string): Promise<KubernetesObject[]> {
    if (!this.options.keda) return [];
    try {
      const list = (await this.custom.listNamespacedCustomObject({
        group: KEDA_API_GROUP,
        version: KEDA_API_VERSION,
        namespace: this.names.namespace(runtimeId),
        plural: SCALED_OBJECTS,
        labelSelector: this.versionSelector(runtimeId, versionName),
      })) as { items?: KubernetesObject[] };
      return (list.items ?? []).map((item) => ({
        ...item,
        apiVersion: `${KEDA_API_GROUP}/${KEDA_API_VERSION}`,
        kind: SCALED_OBJECT_KIND,
      }));
    } catch (error) {
      // No CRD, or a role without ScaledObjects: none can have been made by this deployer.
      if (isNotFound(error) || apiError(error)?.code === 403) return [];
      throw error;
    }
  }

  /**
   * Takes the version's nodes back from KEDA and waits until its ScaledObjects are gone (KEDA's
   * finalizer removes their HPAs first), so nothing scales the Deployments behind the driver.
   */
  private async removeScaledObjects(runtimeId: string, versionName: string): Promise<void> {
    const objects = await this.scaledObjects(runtimeId, versionName);
    if (objects.length === 0) return;
    for (const object of objects) await this.deleteObject(object);
    await this.waitGone(`the ScaledObjects of ${runtimeId}/${versionName}`, async () => {
      return (await this.scaledObjects(runtimeId, versionName)).length === 0;
    });
  }

  /**
   * A Deployment that a ScaledObject scales keeps the replicas it has (KEDA's HPA sets them): a
   * config roll changes its pods, not their count.
   */
  private async keepScaledReplicas(
    plan: DeploymentPlan,
    manifests: readonly KubernetesObject[],
  ): Promise<void> {
    const scaled = new Set(
      (await this.scaledObjects(plan.runtimeId, plan.versionName)).map((o) => o.metadata?.name),
    );
    if (scaled.size === 0) return;
    const live = new Map(
      (await this.deployments(plan.runtimeId, plan.versionName)).map((d) => [
        d.metadata?.name,
        d.spec?.replicas,
      ]),
    );
    for (const object of manifests) {
      const replicas = live.get(object.metadata?.name);
      if (object.kind !== 'Deployment' || !scaled.has(object.metadata?.name)) continue;
      if (replicas !== undefined) (object as V1Deployment).spec!.replicas = replicas;
    }
  }

  private versionSelector(runtimeId: string, versionName: string): string {
    return `kre.io/runtime=${runtimeId},kre.io/version=${versionName},app.kubernetes.io/managed-by=kre-deployer`;
  }

  private async versionObjects(
    runtimeId: string,
    versionName: string,
  ): Promise<KubernetesObject[]> {
    const namespace = this.names.namespace(runtimeId);
    const found: KubernetesObject[] = [];
    for (const { apiVersion, kind } of VERSION_KINDS) {
      try {
        const list = await this.objects.list(
          apiVersion,
          kind,
          namespace,
          undefined,
          undefined,
          undefined,
          undefined,
          this.versionSelector(runtimeId, versionName),
        );
        found.push(...list.items.map((item) => ({ ...item, apiVersion, kind })));
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    return found;
  }

  private async deployments(runtimeId: string, versionName: string): Promise<V1Deployment[]> {
    const list = await this.objects.list<V1Deployment>(
      'apps/v1',
      'Deployment',
      this.names.namespace(runtimeId),
      undefined,
      undefined,
      undefined,
      undefined,
      this.versionSelector(runtimeId, versionName),
    );
    return list.items;
  }

  /** A JSON merge patch of one object (scale to zero changes replicas, nothing else). */
  private async mergePatch(object: V1Deployment, patch: object): Promise<void> {
    const header = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: object.metadata?.name, namespace: object.metadata?.namespace },
    };
    try {
      await this.objects.patch(
        {
          ...header,
          ...patch,
          metadata: { ...header.metadata, ...(patch as { metadata?: object }).metadata },
        },
        undefined,
        undefined,
        this.options.fieldManager,
        undefined,
        MERGE_PATCH,
      );
    } catch (error) {
      throw new Error(
        `the API server refused to scale Deployment ${header.metadata.namespace}/${header.metadata.name}: ${apiReason(error)}`,
        { cause: error },
      );
    }
  }

  private async serverSideApply(object: KubernetesObject): Promise<void> {
    try {
      await this.objects.patch(
        object,
        undefined,
        undefined,
        this.options.fieldManager,
        true,
        SERVER_SIDE_APPLY,
      );
    } catch (error) {
      const { namespace, name } = object.metadata ?? {};
      throw new Error(
        `the API server refused ${object.kind} ${namespace ? `${namespace}/` : ''}${name}: ${apiReason(error)}`,
        { cause: error },
      );
    }
  }

  private async deleteObject(object: KubernetesObject): Promise<void> {
    try {
      await this.objects.delete(
        {
          apiVersion: object.apiVersion,
          kind: object.kind,
          metadata: { name: object.metadata?.name, namespace: object.metadata?.namespace },
        },
        undefined,
        undefined,
        undefined,
        undefined,
        'Foreground',
      );
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  private async waitGone(what: string, gone: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + GONE_TIMEOUT_MS;
    while (!(await gone())) {
      if (Date.now() > deadline)
        throw new Error(`${what} still exist(s) after ${GONE_TIMEOUT_MS / 1_000} s`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /**
   * Watches `path` until `done(event)` says so (true), the deadline passes or the watch ends
   * (false: the caller lists again).
   */
  private async watchUntil<T>(
    path: string,
    query: Record<string, string | undefined>,
    deadline: number,
    done: (type: string, object: T) => boolean,
  ): Promise<boolean> {
    let controller: AbortController | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
        new this.k8s.Watch(this.kubeConfig)
          .watch(
            path,
            { ...query, allowWatchBookmarks: false },
            (type, object: T) => {
              if (done(type, object)) resolve(true);
            },
            () => resolve(false),
          )
          .then((c) => {
            controller = c;
            this.watches.add(c);
          })
          .catch(() => resolve(false));
      });
    } finally {
      clearTimeout(timer);
      if (controller) {
        controller.abort();
        this.watches.delete(controller);
      }
    }
  }
}
