import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { OrchestratorDriver, ReplicaStatus } from '@libs/orchestrator';
import { VersionsRepository } from '@libs/persistence';
import { ORCHESTRATOR_DRIVER } from './orchestrator.provider.js';
import { RUNNING_STATUSES, targetOf } from './running-workloads.js';
import { VersionLogService } from './version-log.service.js';

export const REPLICA_WATCH_PERIOD_MS = Symbol('REPLICA_WATCH_PERIOD_MS');

interface Seen {
  restarts: number;
  state: ReplicaStatus['state'];
  message?: string;
}

/**
 * Tells a version's team when one of its replicas crashed and when it runs again: it polls the
 * driver's status of the running versions and writes a line to the version's logs (source
 * DEPLOYER, origin the replica's workflow and node) for each new crash, with how the process
 * ended and its last lines (masked by the driver: `ReplicaStatus.message`), and for the replica
 * running again. Driver-agnostic (local processes or pods). What a replica did before this
 * deployer started is its baseline, not reported again.
 */
@Injectable()
export class ReplicaWatchService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ReplicaWatchService.name);
  private readonly seen = new Map<string, Seen>();
  private timer?: NodeJS.Timeout;
  private primed = false;
  private sweeping = false;

  constructor(
    private readonly versions: VersionsRepository,
    @Inject(ORCHESTRATOR_DRIVER) private readonly driver: OrchestratorDriver,
    private readonly versionLog: VersionLogService,
    @Inject(REPLICA_WATCH_PERIOD_MS) private readonly periodMs: number,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sweep(), this.periodMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** One look at every watched version's replicas (public for tests). */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const live = new Set<string>();
      for (const version of await this.versions.listByStatus(RUNNING_STATUSES)) {
        const ref = { runtimeId: version.runtimeId, versionName: version.name };
        for (const replica of await this.driver.status(ref.runtimeId, ref.versionName)) {
          const key = `${ref.runtimeId}/${ref.versionName}/${replica.workloadId}#${replica.replica}`;
          live.add(key);
          const before = this.seen.get(key);
          this.seen.set(key, {
            restarts: replica.restarts,
            state: replica.state,
            message: replica.message,
          });
          if (!before && !this.primed) continue; // running before this deployer: a baseline
          this.report(ref, replica, before ?? { restarts: 0, state: 'STARTING' });
        }
      }
      for (const key of [...this.seen.keys()]) if (!live.has(key)) this.seen.delete(key);
      this.primed = true;
    } catch (error) {
      this.logger.warn(`cannot watch the replicas: ${String(error)}`);
    } finally {
      this.sweeping = false;
    }
  }

  private report(
    ref: { runtimeId: string; versionName: string },
    now: ReplicaStatus,
    before: Seen,
  ): void {
    const target = { ...ref, ...targetOf(now.workloadId) };
    const fields = { replica: now.replica, restarts: now.restarts };
    // A restart count that went down was reset after a stable run: not a crash.
    const crashed =
      now.restarts > before.restarts ||
      (now.restarts > 0 && now.restarts === before.restarts && now.message !== before.message);
    if (crashed)
      this.versionLog.log(
        target,
        'ERROR',
        `replica ${now.replica} of ${now.workloadId} crashed (restart ${now.restarts}): ${now.message ?? 'no reason given'}`,
        fields,
      );
    if (now.state === 'RUNNING' && (crashed || before.state === 'RESTARTING'))
      this.versionLog.log(
        target,
        'INFO',
        `replica ${now.replica} of ${now.workloadId} is running again (restart ${now.restarts})`,
        fields,
      );
  }
}
