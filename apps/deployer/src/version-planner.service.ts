import { Inject, Injectable } from '@nestjs/common';
import { planVersionResources, type StreamSettings, type VersionResources } from '@libs/messaging';
import { Names } from '@libs/naming';
import { tracesUrl } from '@libs/observability';
import {
  ENTRYPOINT_WORKLOAD,
  krtStoresUsage,
  krtUsage,
  plan,
  type DeploymentPlan,
  type UsageDefaults,
} from '@libs/orchestrator';
import { NO_USAGE, VersionStatus, addUsage, type QuotaUsage } from '@libs/core';
import type { Krt } from '@libs/krt';
import { ConfigCipher, unsetConfigKeys, type VersionDoc } from '@libs/persistence';
import { UnrecoverableError } from 'bullmq';
import { DEPLOYER_ENV, type DeployerEnv } from './deployer.env.js';

/**
 * Versions that hold (or are about to hold) workloads and streams: what a start or a scale-up is
 * counted beside. STARTING ones too, so two starts queued together cannot both fit.
 */
const HOLDING: readonly VersionStatus[] = [
  VersionStatus.STARTING,
  VersionStatus.STARTED,
  VersionStatus.PUBLISHED,
  VersionStatus.STOPPING,
];
/**
 * What a version is made of in this installation: its deployment plan (config decrypted, for a
 * start or a roll) and its NATS resources (for stop and delete, which must work even when the
 * config no longer opens). Both come from the same enumeration in `@libs/messaging`.
 */
@Injectable()
export class VersionPlanner {
  constructor(
    private readonly cipher: ConfigCipher,
    private readonly names: Names,
    @Inject(DEPLOYER_ENV) private readonly env: DeployerEnv,
  ) {}

  /** The workflow streams' settings of this installation. */
  private get streamSettings(): Partial<StreamSettings> {
    return {
      // The entrypoint's timeout bounds a request: a message older than that has no one waiting.
      maxAgeMs: Math.max(this.env.REQUEST_TIMEOUT_SECONDS * 1_000 * 10, 60_000),
      // Counted by the runtime's storage quota (issue #13).
      maxBytes: this.env.WORKFLOW_STREAM_MAX_SIZE,
    };
  }

  /** What a version holds beside its KRT: a replica's default limits, each stream's size. */
  get usageDefaults(): UsageDefaults {
    return {
      replica: {
        memoryBytes: this.env.WORKLOAD_MEMORY_MB * 2 ** 20,
        cpuMillis: Math.round(this.env.WORKLOAD_CPUS * 1_000),
      },
      streamMaxBytes: this.env.WORKFLOW_STREAM_MAX_SIZE,
      storeMaxBytes: {
        keyValue: this.env.KV_BUCKET_MAX_SIZE,
        objectStore: this.env.OBJECT_STORE_MAX_SIZE,
      },
    };
  }

  /**
   * The replicas node autoscaling keeps for a running version's bounded nodes (set by
   * NodeAutoscalingService), so a config roll keeps them.
   */
  replicaCounts: (ref: {
    runtimeId: string;
    versionName: string;
  }) => Readonly<Record<string, number>> | undefined = () => undefined;

  /**
   * Each node's replicas: `replicas` given, else what autoscaling keeps, else its bounds' min
   * (`scale.autoscale`), else the KRT's.
   * @throws UnrecoverableError when a config value is unset; the cipher's errors
   */
  plan(version: VersionDoc, replicas?: Readonly<Record<string, number>>): DeploymentPlan {
    const unset = unsetConfigKeys(version.config);
    if (unset.length > 0)
      throw new UnrecoverableError(`the config is not complete: ${unset.join(', ')} unset`);
    const variables: Record<string, string> = {};
    const files: Record<string, string> = {};
    for (const entry of version.config) {
      if (entry.value === undefined) continue; // not reached: the config is complete
      const where = { runtimeId: version.runtimeId, versionName: version.name, key: entry.key };
      (entry.type === 'FILE' ? files : variables)[entry.key] = this.cipher.decrypt(
        entry.value,
        where,
      );
    }
    return plan({
      prefix: this.names.prefix,
      runtimeId: version.runtimeId,
      krt: version.krt,
      natsUrl: this.env.NATS_URL,
      config: { variables, files },
      requestTimeoutSeconds: this.env.REQUEST_TIMEOUT_SECONDS,
      streamSettings: this.streamSettings,
      replicaDefaults: this.usageDefaults.replica,
      storeMaxBytes: this.usageDefaults.storeMaxBytes,
      // With an OTLP endpoint, workloads relay their spans through mongo-writer (never direct).
      tracing: tracesUrl(this.env)
        ? { scheduleDelayMs: this.env.OTEL_BSP_SCHEDULE_DELAY }
        : undefined,
      replicas: { ...this.nodeReplicas(version), ...replicas },
    });
  }

  /**
   * Each bounded workload's replicas now (`<workflow>.<node>` or `entrypoint` → count): what
   * autoscaling keeps (this deployer's, when it leads; else what the leader last applied,
   * `scale.nodeReplicas`), else its bounds' min. Workloads without bounds are absent (a node
   * runs the KRT's `replicas`, the entrypoint one).
   */
  nodeReplicas(version: Pick<VersionDoc, 'runtimeId' | 'name' | 'scale'>): Record<string, number> {
    const min = minReplicasOf(version);
    const bounds = boundsOf(version);
    // Within today's bounds (a MANAGER may have changed them since).
    const applied = (version.scale?.nodeReplicas ?? []).flatMap(({ workload, replicas }) => {
      const b = bounds.get(workload);
      return b ? [[workload, Math.min(b.max, Math.max(b.min, replicas))] as const] : [];
    });
    return {
      ...min,
      ...Object.fromEntries(applied),
      ...this.replicaCounts({ runtimeId: version.runtimeId, versionName: version.name }),
    };
  }

  /**
   * What the runtime's versions other than `name` hold in its quota, from their KRTs (their
   * config need not open): running ones everything, their bounded nodes at the replicas they have
   * now; stopped ones (or failed after a start) their KV buckets and object stores, which stay
   * until deleted. The start's and the autoscaler's quota checks both count them so.
   */
  othersUsage(versions: readonly VersionDoc[], name: string): QuotaUsage {
    return addUsage(
      ...versions
        .filter((v) => v.name !== name)
        .map((v): QuotaUsage => {
          if (HOLDING.includes(v.status)) {
            const counts = this.nodeReplicas(v);
            return krtUsage(
              krtWithReplicas(v.krt, counts),
              this.usageDefaults,
              counts[ENTRYPOINT_WORKLOAD],
            );
          }
          if (
            v.status === VersionStatus.STOPPED ||
            (v.status === VersionStatus.ERROR && v.startedAt)
          )
            return krtStoresUsage(v.krt, this.usageDefaults);
          return NO_USAGE;
        }),
    );
  }

  /** The version's NATS resources, without opening its config. */
  resources(version: VersionDoc): VersionResources {
    return planVersionResources(
      this.names,
      version.runtimeId,
      version.name,
      version.krt.workflows,
      this.streamSettings,
    );
  }
}

/** A version's KRT with its nodes' replicas as counted now (`<workflow>.<node>` → count). */
export function krtWithReplicas(krt: Krt, counts: Readonly<Record<string, number>>): Krt {
  return {
    ...krt,
    workflows: krt.workflows.map((wf) => ({
      ...wf,
      nodes: wf.nodes.map((node) => ({
        ...node,
        replicas: counts[`${wf.name}.${node.name}`] ?? node.replicas,
      })),
    })),
  };
}

/**
 * The bounded workloads of a version, as `<workflow>.<node>` (`scale.autoscale`) or `entrypoint`
 * (`scale.entrypointAutoscale`) → their bounds.
 */
export function boundsOf(
  version: Pick<VersionDoc, 'scale'>,
): Map<string, { min: number; max: number }> {
  const bounds = new Map<string, { min: number; max: number }>(
    (version.scale?.autoscale ?? []).map((a) => [`${a.workflow}.${a.node}`, a]),
  );
  const entrypoint = version.scale?.entrypointAutoscale;
  if (entrypoint) bounds.set(ENTRYPOINT_WORKLOAD, entrypoint);
  return bounds;
}

/** The bounded workloads of a version (`boundsOf`), as id → min. */
export function minReplicasOf(version: Pick<VersionDoc, 'scale'>): Record<string, number> {
  return Object.fromEntries([...boundsOf(version)].map(([id, b]) => [id, b.min]));
}
