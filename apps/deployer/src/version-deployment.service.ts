import { Inject, Injectable } from '@nestjs/common';
import { RUNNING_STATUSES, VersionStatus, statusAfter, type RuntimeQuota } from '@libs/core';
import { defaultRuntimeQuota } from '@libs/config';
import type { VersionRef } from '@libs/jobs';
import { NatsProvisioner } from '@libs/messaging';
import {
  QuotaExceededError,
  UnsupportedImageError,
  WorkloadsNotReadyError,
  checkQuota,
  type DeploymentPlan,
} from '@libs/orchestrator';
import {
  ConfigValueUnreadableError,
  LegacyConfigValueError,
  RuntimesRepository,
  VersionsRepository,
  quotaOf,
  type VersionDoc,
} from '@libs/persistence';
import { UnrecoverableError } from 'bullmq';
import { DEPLOYER_ENV, type DeployerEnv } from './deployer.env.js';
import { KrtCopyService } from './krt-copy.service.js';
import { VersionPlanner } from './version-planner.service.js';
import { VersionScaleService } from './version-scale.service.js';
import { VersionWorkloads } from './version-workloads.service.js';

/** Reports a step of a job (BullMQ progress → the admin API's subscriptions). */
export type Progress = (step: string) => Promise<void>;

/**
 * The steps of each version job. Every step is idempotent, so a retried job (or one picked up
 * again after a deployer crash) converges on the same result.
 */
@Injectable()
export class VersionDeploymentService {
  constructor(
    private readonly versions: VersionsRepository,
    private readonly planner: VersionPlanner,
    private readonly provisioner: NatsProvisioner,
    private readonly krtCopies: KrtCopyService,
    private readonly workloads: VersionWorkloads,
    private readonly runtimes: RuntimesRepository,
    private readonly scale: VersionScaleService,
    @Inject(DEPLOYER_ENV) private readonly env: DeployerEnv,
  ) {}

  async start(ref: VersionRef, progress: Progress): Promise<void> {
    const version = await this.versions.get(ref.runtimeId, ref.versionName);
    if (RUNNING_STATUSES.includes(version.status)) return; // done by an earlier attempt
    if (version.status !== VersionStatus.STARTING) {
      throw new UnrecoverableError(`version is ${version.status}, not STARTING: nothing to start`);
    }
    try {
      await this.deploy(version, progress);
    } catch (error) {
      // Neither an unknown image nor a config value that does not open changes on a retry.
      if (
        error instanceof QuotaExceededError ||
        error instanceof UnsupportedImageError ||
        error instanceof LegacyConfigValueError ||
        error instanceof ConfigValueUnreadableError
      )
        throw new UnrecoverableError(error.message);
      if (error instanceof WorkloadsNotReadyError) {
        // A node program that does not come up will not on a retry either: stop what runs.
        await this.workloads.stopWorkloads(ref);
        throw new UnrecoverableError(error.message);
      }
      throw error;
    }
    // Awake, whatever a run before a stop left (scale to zero); before STARTED, so a reader that
    // sees it started sees it awake.
    await this.scale.markAwake(ref, await this.workloads.replicas(ref));
    await progress('mark-started');
    await this.versions.transition(
      ref.runtimeId,
      ref.versionName,
      [VersionStatus.STARTING],
      statusAfter('start'),
      {
        startedAt: new Date(),
      },
    );
  }

  /** Never beside the version's sleep, wake or autoscaling, which re-apply its workloads. */
  stop(ref: VersionRef, progress: Progress): Promise<void> {
    return this.scale.exclusive(ref, () => this.stopNow(ref, progress));
  }

  private async stopNow(ref: VersionRef, progress: Progress): Promise<void> {
    const version = await this.versions.get(ref.runtimeId, ref.versionName);
    if (version.status === VersionStatus.STOPPED) return;
    await this.workloads.stop(ref, progress);
    await progress('remove-streams');
    await this.provisioner.removeVersionStreams(this.planner.resources(version));
    await progress('mark-stopped');
    await this.versions.setStatus(ref.runtimeId, ref.versionName, statusAfter('stop'));
  }

  /**
   * A wake that failed for good (its retries spent): the version cannot serve, so rather than
   * hold every call until its deadline for ever, it goes to ERROR with the reason, its routes
   * removed (calls are refused at once as for any version that does not run) and whatever the
   * wake started stopped. Started again by its users once the cause is fixed.
   */
  failWake(ref: VersionRef, reason: string): Promise<void> {
    return this.scale.exclusive(ref, async () => {
      const version = await this.versions.find(ref.runtimeId, ref.versionName);
      if (!version || !RUNNING_STATUSES.includes(version.status)) return;
      await this.workloads.stop(ref);
      await this.versions.setStatus(
        ref.runtimeId,
        ref.versionName,
        VersionStatus.ERROR,
        `wake failed: ${reason}`,
      );
    });
  }

  publish(ref: VersionRef, progress: Progress): Promise<void> {
    return this.workloads.publish(ref, progress);
  }

  unpublish(ref: VersionRef, progress: Progress): Promise<void> {
    return this.workloads.unpublish(ref, progress);
  }

  /**
   * Rolls the workloads of a running version onto its new config (ports and routes stay).
   * A change saved while this job runs is deduplicated into it by the queue, so the job rolls
   * again until the config it applied is the config that is stored.
   */
  updateConfig(ref: VersionRef, progress: Progress): Promise<void> {
    return this.scale.exclusive(ref, () => this.rollConfig(ref, progress));
  }

  private async rollConfig(ref: VersionRef, progress: Progress): Promise<void> {
    let version = await this.versions.get(ref.runtimeId, ref.versionName);
    for (let round = 1; RUNNING_STATUSES.includes(version.status); round++) {
      const step = round === 1 ? 'apply' : `apply-${round}`;
      const quota = await this.quotaOf(ref.runtimeId);
      const deployment = { ...this.planner.plan(version), quota };
      // A sleeping version stays asleep: its next wake runs the new config (scale to zero).
      if (version.scale?.state === 'SLEEPING')
        await this.workloads.applyAsleep(deployment, progress, step);
      else {
        await this.workloads.roll(deployment, progress, step);
        // A wake that failed half-way (WAKING) left it neither: it runs now.
        if (version.scale?.state !== undefined && version.scale.state !== 'AWAKE')
          await this.scale.markAwake(ref, await this.workloads.replicas(ref));
      }
      const applied = version;
      version = await this.versions.get(ref.runtimeId, ref.versionName);
      // Sealed values change with every save (a fresh IV), so equal means "not saved since".
      if (sealedConfig(version) === sealedConfig(applied)) return;
      if (round >= MAX_CONFIG_ROUNDS)
        throw new Error(`the config kept changing during ${round} rolls; the next change rolls it`);
    }
  }

  /** Removes everything of the version: workloads, streams, KV, object stores, KRT copies, record. */
  delete(ref: VersionRef, progress: Progress): Promise<void> {
    return this.scale.exclusive(ref, () => this.deleteNow(ref, progress));
  }

  private async deleteNow(ref: VersionRef, progress: Progress): Promise<void> {
    const version = await this.versions.find(ref.runtimeId, ref.versionName);
    if (!version) return;
    await progress('stop-workloads');
    await this.workloads.stop(ref);
    await progress('remove-nats');
    await this.provisioner.removeVersion(this.planner.resources(version));
    await progress('remove-archive');
    await this.krtCopies.removeUpload(version);
    await this.versions.remove(ref.runtimeId, ref.versionName);
  }

  private async deploy(version: VersionDoc, progress: Progress): Promise<void> {
    // First, so a config that does not open, or a start over the runtime's quota, fails the
    // start before anything is made.
    const deployment = await this.checkedPlan(version);
    await progress('provision-nats');
    await this.provisioner.provisionVersion(deployment.resources);
    const krtSha256 = await this.krtCopies.copy(version, deployment.resources, progress);
    await this.workloads.run(deployment, progress, krtSha256);
  }

  /** The runtime's quota: its own, else the installation's (RUNTIME_QUOTA_*). */
  private async quotaOf(runtimeId: string): Promise<RuntimeQuota> {
    return quotaOf(await this.runtimes.get(runtimeId), defaultRuntimeQuota(this.env));
  }

  /**
   * The version's plan, refused when it does not fit the runtime's quota beside what its other
   * versions hold (running ones everything, stopped ones their stores; from their KRTs: their
   * config need not open); carries the quota for the driver (Kubernetes: the namespace's
   * ResourceQuota).
   * @throws QuotaExceededError
   */
  private async checkedPlan(version: VersionDoc): Promise<DeploymentPlan> {
    const deployment = this.planner.plan(version);
    const quota = await this.quotaOf(version.runtimeId);
    const others = this.planner.othersUsage(
      await this.versions.list(version.runtimeId),
      version.name,
    );
    checkQuota(deployment, quota, others);
    return { ...deployment, quota };
  }
}

/** A config changed this many times during one roll is left to the next job. */
const MAX_CONFIG_ROUNDS = 5;

function sealedConfig(version: VersionDoc): string {
  return JSON.stringify(version.config.map((entry) => [entry.key, entry.value ?? null]));
}
