import { Injectable } from '@nestjs/common';
import { RUNNING_STATUSES, VersionStatus, statusAfter } from '@libs/core';
import type { VersionRef } from '@libs/jobs';
import { NatsProvisioner } from '@libs/messaging';
import { UnsupportedImageError, WorkloadsNotReadyError } from '@libs/orchestrator';
import {
  ConfigValueUnreadableError,
  LegacyConfigValueError,
  VersionsRepository,
  type VersionDoc,
} from '@libs/persistence';
import { UnrecoverableError } from 'bullmq';
import { KrtCopyService } from './krt-copy.service.js';
import { VersionPlanner } from './version-planner.service.js';
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

  async stop(ref: VersionRef, progress: Progress): Promise<void> {
    const version = await this.versions.get(ref.runtimeId, ref.versionName);
    if (version.status === VersionStatus.STOPPED) return;
    await this.workloads.stop(ref, progress);
    await progress('remove-streams');
    await this.provisioner.removeVersionStreams(this.planner.resources(version));
    await progress('mark-stopped');
    await this.versions.setStatus(ref.runtimeId, ref.versionName, statusAfter('stop'));
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
  async updateConfig(ref: VersionRef, progress: Progress): Promise<void> {
    let version = await this.versions.get(ref.runtimeId, ref.versionName);
    for (let round = 1; RUNNING_STATUSES.includes(version.status); round++) {
      const step = round === 1 ? 'apply' : `apply-${round}`;
      await this.workloads.roll(this.planner.plan(version), progress, step);
      const applied = version;
      version = await this.versions.get(ref.runtimeId, ref.versionName);
      // Sealed values change with every save (a fresh IV), so equal means "not saved since".
      if (sealedConfig(version) === sealedConfig(applied)) return;
      if (round >= MAX_CONFIG_ROUNDS)
        throw new Error(`the config kept changing during ${round} rolls; the next change rolls it`);
    }
  }

  /** Removes everything of the version: workloads, streams, KV, object stores, KRT copies, record. */
  async delete(ref: VersionRef, progress: Progress): Promise<void> {
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
    // First, so a config that does not open fails the start before anything is made.
    const deployment = this.planner.plan(version);
    await progress('provision-nats');
    await this.provisioner.provisionVersion(deployment.resources);
    const krtSha256 = await this.krtCopies.copy(version, deployment.resources, progress);
    await this.workloads.run(deployment, progress, krtSha256);
  }
}

/** A config changed this many times during one roll is left to the next job. */
const MAX_CONFIG_ROUNDS = 5;

function sealedConfig(version: VersionDoc): string {
  return JSON.stringify(version.config.map((entry) => [entry.key, entry.value ?? null]));
}
