import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  Optional,
} from '@nestjs/common';
import { CLOCK, type Clock, RUNNING_STATUSES, systemClock } from '@libs/core';
import { VersionJobsProducer, type VersionRef } from '@libs/jobs';
import { GatewayRoutes, type ScaleState, type WakeReply } from '@libs/messaging';
import type { OrchestratorDriver } from '@libs/orchestrator';
import { VersionsRepository, type VersionDoc } from '@libs/persistence';
import { DEPLOYER_ENV, type DeployerEnv } from './deployer.env.js';
import { IdleClock, type IdleCandidate } from './idle-clock.js';
import { ORCHESTRATOR_DRIVER } from './orchestrator.provider.js';
import type { Progress } from './version-deployment.service.js';
import { VersionLogService } from './version-log.service.js';

/** The version's effective idle time: its own, else the installation's. */
export function idleSecondsOf(version: Pick<VersionDoc, 'scale'>, fallback: number): number {
  return version.scale?.idleSeconds ?? fallback;
}

/** A running version as the idle clock sees it. */
export function idleCandidateOf(version: VersionDoc, fallback: number): IdleCandidate {
  return {
    runtimeId: version.runtimeId,
    versionName: version.name,
    idleSeconds: idleSecondsOf(version, fallback),
    state: version.scale?.state,
    startedAtMs: version.startedAt?.getTime(),
    stateSinceMs: version.scale?.since?.getTime(),
  };
}

/** How often running versions are checked for idleness. */
export const IDLE_SWEEP_MS = Symbol('IDLE_SWEEP_MS');

/**
 * Scale to zero (docs/lifecycle.md, "Sleep and wake"): the version's idle clock, fed by the
 * gateways' activity reports; a periodic sweep that queues a `sleep` job for each running
 * version idle for its idle time; the gateways' wake requests, which queue a `wake` job
 * (deduplicated by the queue: one per version while one waits or runs); and the steps of both
 * jobs. The version stays STARTED or PUBLISHED and keeps its routes; its route record and its
 * document say whether it is AWAKE, SLEEPING or WAKING. One version's sleep and wake never run
 * at once in this deployer (a wake asked during a sleep waits for it, then undoes it).
 */
@Injectable()
export class VersionScaleService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(VersionScaleService.name);
  readonly idle: IdleClock;
  private readonly locks = new Map<string, Promise<unknown>>();
  private timer?: NodeJS.Timeout;
  private sweeping = false;

  constructor(
    private readonly versions: VersionsRepository,
    private readonly routes: GatewayRoutes,
    @Inject(ORCHESTRATOR_DRIVER) private readonly driver: OrchestratorDriver,
    private readonly versionLog: VersionLogService,
    private readonly jobs: VersionJobsProducer,
    @Inject(DEPLOYER_ENV) private readonly env: DeployerEnv,
    @Inject(IDLE_SWEEP_MS) private readonly sweepMs: number,
    @Optional() @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {
    this.idle = new IdleClock(this.clock.now().getTime());
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sweep(), this.sweepMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** A gateway reported calls of the version (at its arrival here, not the gateway's clock). */
  called(ref: Pick<VersionRef, 'runtimeId' | 'versionName'>): void {
    this.idle.called(ref.runtimeId, ref.versionName, this.now());
  }

  /** Queues a sleep job for each running version idle long enough; returns how many. */
  async sweep(): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    try {
      const running = (await this.versions.listByStatus(RUNNING_STATUSES)).map((v) =>
        idleCandidateOf(v, this.env.VERSION_IDLE_SECONDS),
      );
      this.idle.retain(running);
      const due = this.idle.due(running, this.now());
      for (const version of due) {
        const ref = { runtimeId: version.runtimeId, versionName: version.versionName };
        await this.jobs.add('sleep', { ...ref, by: 'idle' });
      }
      return due.length;
    } catch (error) {
      this.logger.warn(`idle sweep failed: ${String(error)}`);
      return 0;
    } finally {
      this.sweeping = false;
    }
  }

  /** A gateway asks for a wake: queues the job (a running version only). */
  async requestWake(ref: Pick<VersionRef, 'runtimeId' | 'versionName'>): Promise<WakeReply> {
    try {
      const version = await this.versions.find(ref.runtimeId, ref.versionName);
      if (!version || !RUNNING_STATUSES.includes(version.status))
        return {
          queued: false,
          message: `version "${ref.versionName}" of runtime "${ref.runtimeId}" is not running`,
        };
      this.called(ref);
      await this.jobs.add('wake', { ...ref, by: 'gateway' });
      return { queued: true };
    } catch (error) {
      this.logger.warn(`wake of ${ref.runtimeId}/${ref.versionName} not queued: ${String(error)}`);
      return { queued: false, message: 'the wake could not be queued: try again' };
    }
  }

  /** Releases every workload of the version if it is (still) idle; else nothing. */
  sleep(ref: VersionRef, progress: Progress): Promise<void> {
    return this.locked(ref, async () => {
      const version = await this.versions.find(ref.runtimeId, ref.versionName);
      if (!version || !RUNNING_STATUSES.includes(version.status)) return;
      // A call may have come since the job was queued.
      if (!this.idle.isDue(idleCandidateOf(version, this.env.VERSION_IDLE_SECONDS), this.now()))
        return;
      // Gateways hold its calls from here on, rather than sending them to stopping processes.
      await progress('hold-calls');
      await this.routes.setScale(ref.runtimeId, ref.versionName, 'SLEEPING');
      await this.versions.setScaleState(ref.runtimeId, ref.versionName, 'SLEEPING', 0);
      await progress('release');
      const released = await this.driver.release(ref.runtimeId, ref.versionName);
      this.versionLog.log(
        ref,
        'INFO',
        `asleep after ${idleSecondsOf(version, this.env.VERSION_IDLE_SECONDS)} s without a call: ${released} replica(s) released, the next call wakes it`,
      );
    });
  }

  /** Starts the released workloads again and lets the gateways through once they are ready. */
  wake(ref: VersionRef, progress: Progress): Promise<void> {
    return this.locked(ref, async () => {
      const version = await this.versions.find(ref.runtimeId, ref.versionName);
      if (!version || !RUNNING_STATUSES.includes(version.status)) return;
      const began = this.now();
      await progress('resume');
      const asleep = version.scale?.state === 'SLEEPING' || version.scale?.state === 'WAKING';
      if (asleep) {
        await this.versions.setScaleState(ref.runtimeId, ref.versionName, 'WAKING', 0);
        await this.routes.setScale(ref.runtimeId, ref.versionName, 'WAKING');
      }
      const replicas = await this.driver.resume(ref.runtimeId, ref.versionName);
      await progress('wait-ready');
      await this.driver.waitReady(
        ref.runtimeId,
        ref.versionName,
        this.env.WORKLOAD_READY_TIMEOUT_SECONDS * 1_000,
      );
      this.idle.called(ref.runtimeId, ref.versionName, this.now());
      await progress('awake');
      await this.versions.setScaleState(ref.runtimeId, ref.versionName, 'AWAKE', replicas);
      await this.routes.setScale(ref.runtimeId, ref.versionName, 'AWAKE');
      if (asleep)
        this.versionLog.log(
          ref,
          'INFO',
          `awake: ${replicas} replica(s) ready ${this.now() - began} ms after the wake began`,
        );
    });
  }

  /** The version runs (a start, or a config roll that woke it): AWAKE for routes and readers. */
  async markAwake(
    ref: Pick<VersionRef, 'runtimeId' | 'versionName'>,
    replicas: number,
  ): Promise<void> {
    await this.versions.setScaleState(ref.runtimeId, ref.versionName, 'AWAKE', replicas);
    await this.routes.setScale(ref.runtimeId, ref.versionName, 'AWAKE');
  }

  /** Scale state and replicas of a running version (node status), null when it does not run. */
  async stateOf(
    runtimeId: string,
    versionName: string,
  ): Promise<{ state: ScaleState; replicas: number } | null> {
    const version = await this.versions.find(runtimeId, versionName);
    if (!version || !RUNNING_STATUSES.includes(version.status)) return null;
    return {
      state: version.scale?.state ?? 'AWAKE',
      replicas: version.scale?.replicas ?? 0,
    };
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  /**
   * Runs `work` alone among the version's sleep, wake, stop, config roll and autoscaling in this
   * deployer (after those begun before it).
   */
  exclusive<T>(ref: VersionRef, work: () => Promise<T>): Promise<T> {
    return this.locked(ref, work);
  }

  /** Runs `work` after any sleep or wake of the same version in this deployer. */
  private locked<T>(ref: VersionRef, work: () => Promise<T>): Promise<T> {
    const key = `${ref.runtimeId}/${ref.versionName}`;
    const previous = this.locks.get(key) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.locks.set(key, next);
    void next
      .finally(() => {
        if (this.locks.get(key) === next) this.locks.delete(key);
      })
      .catch(() => undefined);
    return next;
  }
}
