import { Logger } from '@nestjs/common';
import { RUNNING_STATUSES } from '@libs/core';
import type {
  AutoscalerOptions,
  ExternalAutoscaler,
  ExternallyScaledNode,
} from '@libs/orchestrator';
import type { VersionDoc, VersionsRepository } from '@libs/persistence';
import type { VersionLogService } from './version-log.service.js';
import type { VersionPlanner } from './version-planner.service.js';
import type { VersionScaleService } from './version-scale.service.js';

const keyOf = (v: Pick<VersionDoc, 'runtimeId' | 'name'>) => `${v.runtimeId}/${v.name}`;
const isAwake = (v: Pick<VersionDoc, 'scale'>) => (v.scale?.state ?? 'AWAKE') === 'AWAKE';

/** What a version hands over: its bounds, in a stable order (compared between rounds). */
function boundsOf(version: Pick<VersionDoc, 'scale'>): string {
  return JSON.stringify(
    (version.scale?.autoscale ?? [])
      .map((a) => [`${a.workflow}.${a.node}`, a.min, a.max] as const)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

/**
 * Node autoscaling where the cluster has its own autoscaler (KEDA, docs/lifecycle.md
 * "Autoscaling"): instead of sampling and applying counts, each awake running version's bounded
 * nodes are handed to it (a ScaledObject each), again only when the bounds change. Under the
 * version's lock, checked awake and running again there: a sleep takes them back (the driver's
 * `release` removes them first) and a wake hands them over again, so KEDA never scales a
 * sleeping version up behind the deployer. A version whose bounds were all removed is taken back.
 */
export class KedaHandover {
  private readonly logger = new Logger(KedaHandover.name);
  /** Per running version: the bounds handed over last (`boundsOf`). */
  private readonly handed = new Map<string, string>();
  /** Per version: the hand-over under way. */
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(
    private readonly versions: VersionsRepository,
    private readonly planner: VersionPlanner,
    private readonly scale: VersionScaleService,
    private readonly versionLog: VersionLogService,
    private readonly policy: AutoscalerOptions,
  ) {}

  /**
   * One round over the running versions: each change is handed over in the background (one
   * version's lock, held by a config roll waiting for its pods, holds no other's).
   */
  async round(external: ExternalAutoscaler): Promise<void> {
    const running = await this.versions.listByStatus(RUNNING_STATUSES);
    const keep = new Set<string>();
    for (const version of running) {
      const key = keyOf(version);
      // Asleep: `release` took its nodes back; handed over again once awake.
      if (!isAwake(version)) continue;
      const bounds = boundsOf(version);
      if (bounds === '[]' && !this.handed.has(key)) continue;
      keep.add(key);
      if (this.handed.get(key) === bounds || this.inflight.has(key)) continue;
      const handing = this.handOver(external, version.runtimeId, version.name)
        .then((handed) => {
          if (handed === undefined) this.handed.delete(key);
          else this.handed.set(key, handed);
        })
        .catch((error: unknown) => {
          this.logger.warn(`handing ${key} to ${external.kind} failed: ${String(error)}`);
        })
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, handing);
    }
    for (const key of [...this.handed.keys()]) if (!keep.has(key)) this.handed.delete(key);
  }

  /** Resolves once the hand-overs begun so far are done (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.inflight.values()]);
  }

  /** The version's bounded nodes to `external`, under its lock; the bounds handed, if any. */
  private handOver(
    external: ExternalAutoscaler,
    runtimeId: string,
    versionName: string,
  ): Promise<string | undefined> {
    const job = { runtimeId, versionName, by: 'autoscale' };
    return this.scale.exclusive(job, async () => {
      const version = await this.versions.find(runtimeId, versionName);
      if (!version || !RUNNING_STATUSES.includes(version.status) || !isAwake(version))
        return undefined;
      const nodes = this.nodesOf(version);
      await external.scale(runtimeId, versionName, nodes, this.policy);
      for (const node of nodes) {
        const dot = node.workload.id.indexOf('.');
        this.versionLog.log(
          {
            runtimeId,
            versionName,
            workflow: node.workload.id.slice(0, dot),
            node: node.workload.id.slice(dot + 1),
          },
          'INFO',
          `autoscale: ${node.bounds.min}..${node.bounds.max} replica(s) handed to ${external.kind}` +
            ` (target backlog ${this.policy.target} per replica)`,
        );
      }
      return boundsOf(version);
    });
  }

  /** The bounded nodes of a version with their Deployments' identity and their consumers. */
  private nodesOf(version: VersionDoc): ExternallyScaledNode[] {
    const workloads = new Map(this.planner.plan(version).workloads.map((w) => [w.id, w]));
    const resources = this.planner.resources(version);
    return (version.scale?.autoscale ?? []).flatMap((a) => {
      const workload = workloads.get(`${a.workflow}.${a.node}`);
      const streams =
        resources.workflows[version.krt.workflows.findIndex((w) => w.name === a.workflow)];
      if (!workload || !streams) return [];
      const inputs = (streams.nodes[a.node]?.inputs ?? []).map((input) => ({
        stream: streams.stream,
        consumer: input.consumer,
      }));
      return [{ workload, bounds: { min: a.min, max: a.max }, inputs }];
    });
  }
}
