import type { RuntimeQuota } from '@libs/core';
import type { DeploymentPlan, WorkloadSpec } from './deployment-plan.js';
import type { AutoscalerOptions, ScaleBounds } from './scaling/replica-autoscaler.js';

/** How one replica of a workload is doing. */
export interface ReplicaStatus {
  readonly workloadId: string;
  readonly replica: number;
  readonly state: 'STARTING' | 'RUNNING' | 'RESTARTING' | 'STOPPED';
  readonly restarts: number;
  readonly pid?: number;
  /** Why it last stopped (exit code or signal, with the tail of its log). */
  readonly message?: string;
}

/** One replica's resource use, as the driver reads it now. */
export interface ReplicaUsage {
  readonly workloadId: string;
  readonly replica: number;
  readonly state: ReplicaStatus['state'];
  readonly restarts: number;
  /** CPU in cores (CPU seconds per second) since the driver's previous reading; absent on the first. */
  readonly cpuCores?: number;
  /** CPU seconds used since the replica (this run of it) started, where the driver knows it. */
  readonly cpuSeconds?: number;
  readonly memoryBytes?: number;
}

/** A version's replicas' resource use, or why the orchestrator cannot tell. */
export interface VersionUsage {
  /** False when this orchestrator has no way to read it (a cluster without a metrics API). */
  readonly available: boolean;
  /** Where the figures come from: `cgroup`, `proc` (local driver), `metrics-api` (Kubernetes). */
  readonly source: string;
  /** Why the figures are missing, when they are. */
  readonly reason?: string;
  readonly replicas: readonly ReplicaUsage[];
}

/** Where the version's entrypoint listens (`host:port` each). */
/** Where a version's entrypoint serves (`host:port` each). */
export interface VersionEndpoints {
  readonly http: string;
  readonly grpc: string;
  /**
   * Each replica's, in replica order, when the entrypoint runs more than one and nothing else
   * balances them (the local driver); `http`/`grpc` are the first's. Absent on Kubernetes: the
   * entrypoint's Service balances its pods.
   */
  readonly replicas?: { http: string; grpc: string }[];
}

/** Thrown when a version's workloads do not become ready in time (or keep crashing). */
export class WorkloadsNotReadyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkloadsNotReadyError';
  }
}

/** A node that the cluster's own autoscaler scales within its bounds, from its consumers' backlog. */
export interface ExternallyScaledNode {
  readonly workload: Pick<WorkloadSpec, 'id' | 'k8sName' | 'labels'>;
  readonly bounds: ScaleBounds;
  /** Its durable consumers (one per input): their backlog drives the count. */
  readonly inputs: readonly { readonly stream: string; readonly consumer: string }[];
}

/**
 * An autoscaler of the cluster (KEDA on Kubernetes) that node autoscaling hands the bounds to
 * instead of deciding and applying counts itself (docs/lifecycle.md, "Autoscaling").
 */
export interface ExternalAutoscaler {
  /** What scales, for logs: `keda`. */
  readonly kind: string;
  /**
   * Makes the cluster scale exactly these nodes of the version (and no other node of it) with
   * `policy`. Idempotent; an empty list takes them all back.
   */
  scale(
    runtimeId: string,
    versionName: string,
    nodes: readonly ExternallyScaledNode[],
    policy: AutoscalerOptions,
  ): Promise<void>;
}

export interface ApplyOptions {
  /** Keep the version released (scale to zero) instead of running the plan now. */
  readonly released?: boolean;
}

/** An orchestrator driver applies deployment plans: `local` (processes) or `kubernetes`. */
export interface OrchestratorDriver {
  /**
   * Where a KRT's declared dependencies are installed: by the deployer, sandboxed, before the
   * KRT is copied to workloads (`local`), or by each workload's fetch step (`kubernetes`).
   */
  readonly installsDependencies: 'deployer' | 'workload';
  /**
   * What a runtime needs before its first version (Kubernetes: its namespace, and a
   * ResourceQuota from the runtime's `quota`). Idempotent.
   */
  prepareRuntime(runtimeId: string, quota?: RuntimeQuota): Promise<void>;
  /** Removes what prepareRuntime made and waits until it is gone. Idempotent. */
  removeRuntime(runtimeId: string): Promise<void>;
  /**
   * Converges the version's workloads to `plan` (idempotent: matching workloads are kept).
   * `released`: the version stays released (asleep): nothing runs now, and the next `resume`
   * starts this plan (a config change while asleep).
   */
  apply(plan: DeploymentPlan, options?: ApplyOptions): Promise<void>;
  /** Resolves when every replica answers `/readyz`. @throws WorkloadsNotReadyError */
  waitReady(runtimeId: string, versionName: string, timeoutMs: number): Promise<void>;
  /**
   * Scale to zero: stops every workload of the version and resolves once they are gone, keeping
   * what brings them back quickly (local: ports, networks, the extracted KRT and config;
   * Kubernetes: the Deployments at 0 replicas, Services and Secrets). Idempotent. Returns how
   * many replicas it released.
   */
  release(runtimeId: string, versionName: string): Promise<number>;
  /**
   * Starts what `release` stopped, as last applied (idempotent: a running version stays as it
   * is); `waitReady` tells when it serves. Returns how many replicas it starts.
   * @throws WorkloadsNotReadyError when the version was never applied here
   */
  resume(runtimeId: string, versionName: string): Promise<number>;
  /** Stops every workload of the version and resolves once they are gone (idempotent). */
  stop(runtimeId: string, versionName: string): Promise<void>;
  /**
   * Makes this the runtime's published version at the orchestrator's level (Kubernetes: the
   * stable `entrypoint` Service and Ingress; locally the gateway's route is all there is).
   */
  publish(runtimeId: string, versionName: string): Promise<void>;
  /** Undoes publish if this version is the published one. */
  unpublish(runtimeId: string, versionName: string): Promise<void>;
  status(runtimeId: string, versionName: string): Promise<ReplicaStatus[]>;
  endpoints(runtimeId: string, versionName: string): Promise<VersionEndpoints | null>;
  /** CPU, memory and restarts of the version's replicas, now (docs/observability.md). */
  usage?(runtimeId: string, versionName: string): Promise<VersionUsage>;
  /**
   * The cluster's own autoscaler, when it has one the driver can use now (Kubernetes: KEDA's
   * `scaledobjects.keda.sh` served by the API); null: the deployer scales nodes itself.
   */
  externalAutoscaler?(): Promise<ExternalAutoscaler | null>;
  /** Takes over what a previous deployer process left running; kills what nothing owns. */
  adopt(): Promise<void>;
  /** Stops supervising (workloads keep running). */
  close(): Promise<void>;
  /**
   * How workloads are confined here, for `/health` and the start-up log (the local driver: the
   * sandbox's uids and the limits mechanism); nothing secret.
   */
  isolation?(): Record<string, string>;
  /**
   * False where runtimes' workloads cannot be kept apart from each other (one machine, the
   * deployer not root: every runtime runs as the same uid). Unset: they are.
   */
  readonly isolatesRuntimes?: boolean;
}
