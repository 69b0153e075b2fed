import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  Optional,
} from '@nestjs/common';
import {
  CLOCK,
  type Clock,
  RUNNING_STATUSES,
  describeExcess,
  quotaExcesses,
  systemClock,
  type QuotaExcess,
} from '@libs/core';
import { defaultRuntimeQuota } from '@libs/config';
import { LeaderLease } from '@libs/jobs';
import { NatsProvisioner } from '@libs/messaging';
import {
  ENTRYPOINT_WORKLOAD,
  planUsage,
  type AutoscalerOptions,
  type ExternalAutoscaler,
  type OrchestratorDriver,
} from '@libs/orchestrator';
import {
  RuntimesRepository,
  VersionsRepository,
  quotaOf,
  type VersionDoc,
} from '@libs/persistence';
import { Counter, Registry } from 'prom-client';
import { DEPLOYER_ENV, type DeployerEnv } from './deployer.env.js';
import {
  type ConsumerCounts,
  NodeAutoscaling,
  type NodeInputRef,
  type NodeScaleChange,
  type ScaledVersion,
  type VersionKey,
} from './node-autoscaling.js';
import { ORCHESTRATOR_DRIVER } from './orchestrator.provider.js';
import { VersionLogService } from './version-log.service.js';
import { EntrypointLoad } from './entrypoint-load.js';
import { VersionPlanner, boundsOf } from './version-planner.service.js';
import { VersionScaleService } from './version-scale.service.js';
import { VersionWorkloads } from './version-workloads.service.js';
import { KedaHandover } from './node-autoscaling.keda.js';
import { leaderRound } from './leader-round.js';

/** How often each awake version's bounded nodes are sampled. */
export const AUTOSCALE_SAMPLE_MS = Symbol('AUTOSCALE_SAMPLE_MS');

const decisionCounters = new WeakMap<Registry, Counter<'runtime' | 'version' | 'direction'>>();
function decisionsOf(registry: Registry): Counter<'runtime' | 'version' | 'direction'> {
  let counter = decisionCounters.get(registry);
  if (!counter) {
    counter = new Counter({
      name: 'kre_autoscale_decisions_total',
      help: "Node and entrypoint scale changes applied by the deployer's autoscaling (direction up or down)",
      labelNames: ['runtime', 'version', 'direction'],
      registers: [registry],
    });
    decisionCounters.set(registry, counter);
  }
  return counter;
}

/**
 * Node autoscaling, wired (docs/lifecycle.md, "Autoscaling"): samples the JetStream consumers of
 * each awake version's bounded nodes every AUTOSCALE_SAMPLE_MS, and applies `NodeAutoscaling`'s
 * decisions by re-applying the version's plan with the new counts, under the same per-version
 * lock as its sleep, wake, stop and config rolls. A scale-up the runtime's quota does not allow
 * is capped to what fits, and the version's logs say so. Each change is a line in the version's
 * logs with the policy's reason and counts in `kre_autoscale_decisions_total`.
 */
@Injectable()
export class NodeAutoscalingService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(NodeAutoscalingService.name);
  readonly controller: NodeAutoscaling;
  private readonly decisions: Counter<'runtime' | 'version' | 'direction'>;
  private timer?: NodeJS.Timeout;
  private readonly policy: AutoscalerOptions;
  private readonly entrypointPolicy: AutoscalerOptions;
  private readonly handover: KedaHandover;
  /** The last round found an external autoscaler: the controller scales entrypoints alone. */
  private external = false;

  constructor(
    private readonly versions: VersionsRepository,
    private readonly runtimes: RuntimesRepository,
    private readonly planner: VersionPlanner,
    private readonly workloads: VersionWorkloads,
    private readonly scale: VersionScaleService,
    private readonly versionLog: VersionLogService,
    @Inject(ORCHESTRATOR_DRIVER) private readonly driver: OrchestratorDriver,
    private readonly nats: NatsProvisioner,
    @Inject(DEPLOYER_ENV) private readonly env: DeployerEnv,
    @Inject(AUTOSCALE_SAMPLE_MS) private readonly sampleMs: number,
    private readonly lease: LeaderLease,
    private readonly entrypointLoad: EntrypointLoad,
    @Optional() registry?: Registry,
    @Optional() @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {
    this.decisions = decisionsOf(registry ?? new Registry());
    this.policy = {
      target: env.AUTOSCALE_TARGET_BACKLOG,
      upAfterMs: env.AUTOSCALE_UP_AFTER_SECONDS * 1_000,
      coolDownMs: env.AUTOSCALE_COOLDOWN_SECONDS * 1_000,
      drainSeconds: env.AUTOSCALE_DRAIN_SECONDS,
    };
    this.entrypointPolicy = {
      target: env.AUTOSCALE_TARGET_IN_FLIGHT,
      upAfterMs: this.policy.upAfterMs,
      coolDownMs: this.policy.coolDownMs,
      measure: 'calls in flight',
    };
    this.handover = new KedaHandover(versions, planner, scale, versionLog, this.policy);
    this.controller = new NodeAutoscaling(
      {
        running: () => this.running(),
        backlog: (input) => this.backlog(input),
        inFlight: (ref, nowMs) => this.entrypointLoad.inFlight(ref, nowMs),
        replicasOf: (ref) => this.replicasOf(ref),
        apply: (ref, counts, changes) => this.apply(ref, counts, changes),
      },
      this.policy,
      this.entrypointPolicy,
      (ref, error) =>
        this.logger.warn(
          `autoscaling of ${ref.runtimeId}/${ref.versionName} failed: ${String(error)}`,
        ),
    );
    // Config rolls keep the counts autoscaling set (else the KRT's, or the bounds' min).
    planner.replicaCounts = (ref) => this.controller.countsOf(ref);
  }

  onApplicationBootstrap(): void {
    // One deployer decides for all: it keeps every sample (up-after, cool-down) while it leads.
    this.timer = setInterval(
      () =>
        void leaderRound(
          this.lease,
          'node-autoscaling',
          this.sampleMs,
          () => this.tick(),
          this.logger,
        ),
      this.sampleMs,
    );
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([this.controller.settled(), this.handover.settled()]);
  }

  /**
   * One round (never throws): where the cluster has its own autoscaler (KEDA), the nodes' bounds
   * are handed to it; else every awake version's bounded nodes are sampled once. Entrypoints are
   * sampled here either way (KEDA does not see the gateways' calls in flight).
   */
  async tick(): Promise<void> {
    try {
      const external: ExternalAutoscaler | null =
        (await this.driver.externalAutoscaler?.()) ?? null;
      this.external = Boolean(external);
      if (external) await this.handover.round(external);
      await this.controller.tick(this.clock.now().getTime());
    } catch (error) {
      this.logger.warn(`autoscaling round failed: ${String(error)}`);
    }
  }

  private async running(): Promise<ScaledVersion[]> {
    const running = await this.versions.listByStatus(RUNNING_STATUSES);
    return running
      .filter((v) => boundsOf(v).size > 0)
      .map((v) => {
        const resources = this.planner.resources(v);
        const inputsOf = (workflow: string, node: string): NodeInputRef[] => {
          const streams =
            resources.workflows[v.krt.workflows.findIndex((w) => w.name === workflow)];
          return (streams?.nodes[node]?.inputs ?? []).map((input) => ({
            stream: streams.stream,
            consumer: input.consumer,
          }));
        };
        return {
          runtimeId: v.runtimeId,
          versionName: v.name,
          awake: (v.scale?.state ?? 'AWAKE') === 'AWAKE',
          nodes: [...boundsOf(v)]
            .filter(([id]) => id === ENTRYPOINT_WORKLOAD || !this.external)
            .map(([id, bounds]) => ({
              workloadId: id,
              bounds: { min: bounds.min, max: bounds.max },
              inputs: id === ENTRYPOINT_WORKLOAD ? [] : inputsOf(...splitId(id)),
            })),
        };
      });
  }

  private backlog(input: NodeInputRef): Promise<ConsumerCounts> {
    return this.nats.consumerBacklog(input.stream, input.consumer);
  }

  private async replicasOf(ref: VersionKey): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const replica of await this.driver.status(ref.runtimeId, ref.versionName))
      counts[replica.workloadId] = (counts[replica.workloadId] ?? 0) + 1;
    return counts;
  }

  /** Re-applies the version's plan with `counts`, capped by its runtime's quota. */
  private apply(
    ref: VersionKey,
    wanted: Readonly<Record<string, number>>,
    changes: readonly NodeScaleChange[],
  ): Promise<Record<string, number>> {
    const job = { runtimeId: ref.runtimeId, versionName: ref.versionName, by: 'autoscale' };
    return this.scale.exclusive(job, async () => {
      const version = await this.versions.find(ref.runtimeId, ref.versionName);
      // Stopped, asleep or gone since the decision: nothing to scale.
      if (!version || !RUNNING_STATUSES.includes(version.status)) return { ...wanted };
      if ((version.scale?.state ?? 'AWAKE') !== 'AWAKE') return { ...wanted };
      const counts = { ...wanted };
      const capped = await this.capToQuota(version, counts, changes);
      const applied = changes.filter((c) => counts[c.workloadId] !== c.from);
      if (applied.length === 0) return counts;
      const quota = await this.quotaOf(ref.runtimeId);
      await this.workloads.roll(
        { ...this.planner.plan(version, counts), quota },
        () => Promise.resolve(),
        'scale',
      );
      await this.versions.setScaleReplicas(
        ref.runtimeId,
        ref.versionName,
        Object.values(await this.replicasOf(ref)).reduce((sum, n) => sum + n, 0),
        counts,
      );
      for (const change of applied) {
        const to = counts[change.workloadId];
        const direction = to > change.from ? 'up' : 'down';
        this.decisions.inc({ runtime: ref.runtimeId, version: ref.versionName, direction });
        this.versionLog.log(
          { ...ref, ...toTarget(change.workloadId) },
          'INFO',
          `autoscale ${direction}: ${change.from} → ${to} replica(s): ${change.reason}${capped.has(change.workloadId) ? ` (capped by the runtime's quota: ${capped.get(change.workloadId)})` : ''}`,
          { replicasFrom: change.from, replicasTo: to, direction },
        );
      }
      for (const [id, why] of capped)
        if (!applied.some((c) => c.workloadId === id))
          this.versionLog.log(
            { ...ref, ...toTarget(id) },
            'WARN',
            `autoscale up refused by the runtime's quota, ${counts[id]} replica(s) kept: ${why}`,
          );
      return counts;
    });
  }

  /**
   * Lowers each scale-up in `counts` until the version fits its runtime's quota beside the other
   * versions (running ones at their autoscaled counts); returns why each capped node was capped.
   */
  private async capToQuota(
    version: VersionDoc,
    counts: Record<string, number>,
    changes: readonly NodeScaleChange[],
  ): Promise<Map<string, string>> {
    const ups = changes.filter((c) => counts[c.workloadId] > c.from);
    if (ups.length === 0) return new Map();
    const quota = await this.quotaOf(version.runtimeId);
    const others = this.planner.othersUsage(
      await this.versions.list(version.runtimeId),
      version.name,
    );
    return capScaleUps(counts, ups, () =>
      quotaExcesses(quota, others, planUsage(this.planner.plan(version, counts))),
    );
  }

  private async quotaOf(runtimeId: string) {
    return quotaOf(await this.runtimes.get(runtimeId), defaultRuntimeQuota(this.env));
  }
}

/**
 * Lowers each scale-up in `counts` (in place) one replica at a time, never below where it was,
 * while `over()` names resources over the quota; returns why each lowered node was lowered.
 */
export function capScaleUps(
  counts: Record<string, number>,
  ups: readonly Pick<NodeScaleChange, 'workloadId' | 'from'>[],
  over: () => readonly QuotaExcess[],
): Map<string, string> {
  const capped = new Map<string, string>();
  for (const up of ups) {
    let excesses = over();
    while (excesses.length > 0 && counts[up.workloadId] > up.from) {
      // Why: what the scale-up first asked for.
      if (!capped.has(up.workloadId))
        capped.set(up.workloadId, excesses.map(describeExcess).join('; '));
      counts[up.workloadId]--;
      excesses = over();
    }
  }
  return capped;
}

function splitId(workloadId: string): [string, string] {
  const dot = workloadId.indexOf('.');
  return [workloadId.slice(0, dot), workloadId.slice(dot + 1)];
}

/** Where a workload's autoscaling lines go in the version's logs. */
function toTarget(workloadId: string): { workflow?: string; node: string } {
  if (workloadId === ENTRYPOINT_WORKLOAD) return { node: ENTRYPOINT_WORKLOAD };
  const [workflow, node] = splitId(workloadId);
  return { workflow, node };
}
