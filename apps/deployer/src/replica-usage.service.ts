import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { LeaderLease } from '@libs/jobs';
import { EngineLogPublisher } from '@libs/messaging';
import type { OrchestratorDriver } from '@libs/orchestrator';
import { VersionsRepository } from '@libs/persistence';
import { leaderRound } from './leader-round.js';
import { ORCHESTRATOR_DRIVER } from './orchestrator.provider.js';
import { RUNNING_STATUSES, targetOf } from './running-workloads.js';

/** The measurement the samples are stored as (admin-api's `replicaResources`, `measurements`). */
export const REPLICA_RESOURCES_MEASUREMENT = 'kre_replica_resources';
export const REPLICA_USAGE_PERIOD_MS = Symbol('REPLICA_USAGE_PERIOD_MS');

/**
 * Resource use per replica, over time: every period, the driver's reading of each running
 * version's replicas (`OrchestratorDriver.usage`: CPU in cores, memory in bytes, restarts) goes
 * to the runtime's observability stream as one measurement record per replica, named
 * `kre_replica_resources` and tagged with its workload and replica; mongo-writer stores them with
 * the version's other measurements, where admin-api reads them (docs/observability.md).
 */
@Injectable()
export class ReplicaUsageService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ReplicaUsageService.name);
  private timer?: NodeJS.Timeout;
  private sampling = false;
  private warned = false;

  constructor(
    private readonly versions: VersionsRepository,
    @Inject(ORCHESTRATOR_DRIVER) private readonly driver: OrchestratorDriver,
    private readonly records: EngineLogPublisher,
    @Inject(REPLICA_USAGE_PERIOD_MS) private readonly periodMs: number,
    private readonly lease: LeaderLease,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.driver.usage) return;
    // One deployer samples for all (else every replica's reading would be stored once each).
    this.timer = setInterval(
      () =>
        void leaderRound(
          this.lease,
          'replica-usage',
          this.periodMs,
          () => this.sample(),
          this.logger,
        ),
      this.periodMs,
    );
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** One reading of every running version's replicas, published (public for tests). */
  async sample(): Promise<number> {
    if (this.sampling || !this.driver.usage) return 0;
    this.sampling = true;
    let published = 0;
    try {
      for (const version of await this.versions.listByStatus(RUNNING_STATUSES)) {
        const usage = await this.driver.usage(version.runtimeId, version.name);
        const time = new Date();
        for (const r of usage.replicas) {
          this.records.measurement(
            {
              runtimeId: version.runtimeId,
              version: version.name,
              ...targetOf(r.workloadId),
              replica: `${r.workloadId}#${r.replica}`,
            },
            REPLICA_RESOURCES_MEASUREMENT,
            {
              restarts: r.restarts,
              state: r.state,
              ...(r.cpuCores !== undefined ? { cpuCores: r.cpuCores } : {}),
              ...(r.memoryBytes !== undefined ? { memoryBytes: r.memoryBytes } : {}),
              ...(r.cpuSeconds !== undefined ? { cpuSeconds: r.cpuSeconds } : {}),
            },
            {
              workload: r.workloadId,
              replica: String(r.replica),
              source: usage.available ? usage.source : 'unavailable',
            },
            time,
          );
          published++;
        }
      }
      this.warned = false;
    } catch (error) {
      if (!this.warned) this.logger.warn(`cannot sample the replicas' resources: ${String(error)}`);
      this.warned = true;
    } finally {
      this.sampling = false;
    }
    return published;
  }
}
