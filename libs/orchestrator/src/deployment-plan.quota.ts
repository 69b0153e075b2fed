import {
  NO_USAGE,
  addUsage,
  describeExcess,
  quotaExcesses,
  type QuotaExcess,
  type QuotaUsage,
  type ReplicaResources,
  type RuntimeQuota,
} from '@libs/core';
import type { Krt } from '@libs/krt';
import { planVersionResources, type StoreMaxBytes, type VersionResources } from '@libs/messaging';
import { Names } from '@libs/naming';
import {
  DEFAULT_REPLICA_RESOURCES,
  type DeploymentPlan,
  replicaResources,
} from './deployment-plan.js';

/** What the installation decides about a version's usage beside its KRT. */
export interface UsageDefaults {
  /** A replica's limits where the KRT sets none. */
  readonly replica: ReplicaResources;
  /** `max_bytes` of each workflow stream. */
  readonly streamMaxBytes: number;
  /** `max_bytes` of each KV bucket and object store (absent: unbounded, not counted). */
  readonly storeMaxBytes?: StoreMaxBytes;
}

/**
 * The JetStream storage a version's resources may take: its workflow streams', KV buckets' and
 * object stores' `max_bytes` (unbounded ones, -1, count nothing).
 */
export function storageOf(resources: VersionResources): number {
  const limit = resources.storeMaxBytes;
  return (
    sumPositive(resources.workflows.map((w) => w.streamConfig.max_bytes ?? 0)) +
    (limit
      ? resources.keyValueStores.length * Math.max(0, limit.keyValue) +
        resources.objectStores.length * Math.max(0, limit.objectStore)
      : 0)
  );
}

/** What a plan holds in the quota's terms: its workloads' replicas and limits, its streams. */
export function planUsage(plan: DeploymentPlan): QuotaUsage {
  return addUsage(
    ...plan.workloads.map((w) => {
      const r = w.resources ?? DEFAULT_REPLICA_RESOURCES;
      return {
        replicas: w.replicas,
        memoryBytes: w.replicas * r.memoryBytes,
        cpuMillis: w.replicas * r.cpuMillis,
        gpus: w.gpu ? w.replicas : 0,
        storageBytes: 0,
      };
    }),
    { replicas: 0, memoryBytes: 0, cpuMillis: 0, gpus: 0, storageBytes: storageOf(plan.resources) },
  );
}

/**
 * What a version holds, from its KRT alone (no config: another version's need not open): the
 * same figures as `planUsage` of its plan, which a test compares. `entrypointReplicas`: as
 * autoscaling runs it (else one).
 */
export function krtUsage(krt: Krt, defaults: UsageDefaults, entrypointReplicas = 1): QuotaUsage {
  const entrypoint = replicaResources(undefined, defaults.replica);
  const resources = versionResources(krt, defaults);
  return addUsage(
    { ...entrypointOnly(entrypoint, entrypointReplicas), storageBytes: storageOf(resources) },
    ...krt.workflows.flatMap((wf) =>
      wf.nodes.map((node) => {
        const r = replicaResources(node, defaults.replica);
        return {
          replicas: node.replicas,
          memoryBytes: node.replicas * r.memoryBytes,
          cpuMillis: node.replicas * r.cpuMillis,
          gpus: node.gpu ? node.replicas : 0,
          storageBytes: 0,
        };
      }),
    ),
  );
}

/**
 * What a stopped version still holds: its KV buckets and object stores, which stay until it is
 * deleted (stop removes its workloads and workflow streams).
 */
export function krtStoresUsage(krt: Krt, defaults: UsageDefaults): QuotaUsage {
  const resources = versionResources(krt, defaults);
  return { ...NO_USAGE, storageBytes: storageOf({ ...resources, workflows: [] }) };
}

function versionResources(krt: Krt, defaults: UsageDefaults): VersionResources {
  // Names do not change how many resources there are: any prefix and runtime count the same.
  return planVersionResources(
    new Names('kre'),
    'rt',
    krt.version,
    krt.workflows,
    { maxBytes: defaults.streamMaxBytes },
    defaults.storeMaxBytes,
  );
}

function entrypointOnly(r: ReplicaResources, n: number): Omit<QuotaUsage, 'storageBytes'> {
  return { replicas: n, memoryBytes: n * r.memoryBytes, cpuMillis: n * r.cpuMillis, gpus: 0 };
}

function sumPositive(values: readonly number[]): number {
  return values.reduce((sum, v) => sum + Math.max(0, v), 0);
}

/** A start the runtime's quota does not allow; every resource over it is named, with by how much. */
export class QuotaExceededError extends Error {
  constructor(
    readonly runtimeId: string,
    readonly versionName: string,
    readonly excesses: readonly QuotaExcess[],
  ) {
    super(
      `starting "${versionName}" would exceed the quota of runtime "${runtimeId}": ${excesses.map(describeExcess).join('; ')}. Stop another version, lower the KRT's replicas or resources, or ask a platform admin to raise the quota`,
    );
    this.name = new.target.name;
  }
}

/**
 * Refuses a plan that, beside what the runtime's other versions hold, exceeds its quota.
 * @throws QuotaExceededError
 */
export function checkQuota(
  plan: DeploymentPlan,
  quota: RuntimeQuota,
  othersUsage: QuotaUsage,
): void {
  const excesses = quotaExcesses(quota, othersUsage, planUsage(plan));
  if (excesses.length > 0) throw new QuotaExceededError(plan.runtimeId, plan.versionName, excesses);
}
