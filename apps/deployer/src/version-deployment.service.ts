import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { RUNNING_STATUSES, VersionStatus } from '@libs/core';
import type { VersionRef } from '@libs/jobs';
import {
  GatewayRoutes,
  NATS_CONNECTION,
  deleteWorkflowStreams,
  provisionVersionStores,
  provisionWorkflowStreams,
} from '@libs/messaging';
import { Names } from '@libs/naming';
import {
  DependencyInstallError,
  UnsupportedImageError,
  WorkloadsNotReadyError,
  plan,
  prepareKrt,
  removeKrt,
  storeKrt,
  type DeploymentPlan,
  type OrchestratorDriver,
} from '@libs/orchestrator';
import {
  ConfigCipher,
  ConfigValueUnreadableError,
  KrtArchiveStore,
  LegacyConfigValueError,
  VersionsRepository,
  type VersionDoc,
} from '@libs/persistence';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { UnrecoverableError } from 'bullmq';
import { DEPLOYER_ENV, type DeployerEnv } from './deployer.env.js';
import { ORCHESTRATOR_DRIVER } from './orchestrator.provider.js';

/** Reports a step of a job (BullMQ progress → the admin API's subscriptions). */
export type Progress = (step: string) => Promise<void>;

/**
 * The steps of each version job. Every step is idempotent, so a retried job (or one picked up
 * again after a deployer crash) converges on the same result.
 */
@Injectable()
export class VersionDeploymentService {
  private readonly logger = new Logger(VersionDeploymentService.name);

  constructor(
    private readonly versions: VersionsRepository,
    private readonly archives: KrtArchiveStore,
    private readonly cipher: ConfigCipher,
    private readonly names: Names,
    private readonly routes: GatewayRoutes,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(ORCHESTRATOR_DRIVER) private readonly driver: OrchestratorDriver,
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
        error instanceof UnsupportedImageError ||
        error instanceof LegacyConfigValueError ||
        error instanceof ConfigValueUnreadableError
      )
        throw new UnrecoverableError(error.message);
      if (error instanceof WorkloadsNotReadyError) {
        // A node program that does not come up will not on a retry either: stop what runs.
        await this.driver.stop(ref.runtimeId, ref.versionName);
        throw new UnrecoverableError(error.message);
      }
      throw error;
    }
    await progress('mark-started');
    await this.versions.transition(
      ref.runtimeId,
      ref.versionName,
      [VersionStatus.STARTING],
      VersionStatus.STARTED,
      {
        startedAt: new Date(),
      },
    );
  }

  async stop(ref: VersionRef, progress: Progress): Promise<void> {
    const version = await this.versions.get(ref.runtimeId, ref.versionName);
    if (version.status === VersionStatus.STOPPED) return;
    await progress('remove-routes');
    await this.routes.removeVersion(ref.runtimeId, ref.versionName);
    await progress('stop-workloads');
    await this.driver.stop(ref.runtimeId, ref.versionName);
    await progress('remove-streams');
    await this.removeStreams(version);
    await progress('mark-stopped');
    await this.versions.setStatus(ref.runtimeId, ref.versionName, VersionStatus.STOPPED);
  }

  async publish(ref: VersionRef, progress: Progress): Promise<void> {
    const endpoints = await this.driver.endpoints(ref.runtimeId, ref.versionName);
    if (!endpoints)
      throw new UnrecoverableError('the version has no running entrypoint to publish');
    await progress('switch-route');
    await this.driver.publish(ref.runtimeId, ref.versionName);
    await this.routes.publish(ref.runtimeId, ref.versionName, endpoints);
  }

  async unpublish(ref: VersionRef, progress: Progress): Promise<void> {
    await progress('remove-route');
    await this.routes.unpublish(ref.runtimeId, ref.versionName);
    await this.driver.unpublish(ref.runtimeId, ref.versionName);
  }

  /**
   * Rolls the workloads of a running version onto its new config (ports and routes stay).
   * A change saved while this job runs is deduplicated into it by the queue, so the job rolls
   * again until the config it applied is the config that is stored.
   */
  async updateConfig(ref: VersionRef, progress: Progress): Promise<void> {
    let version = await this.versions.get(ref.runtimeId, ref.versionName);
    for (let round = 1; RUNNING_STATUSES.includes(version.status); round++) {
      await progress(round === 1 ? 'apply' : `apply-${round}`);
      await this.driver.apply(this.planOf(version));
      await progress('wait-ready');
      await this.driver.waitReady(
        ref.runtimeId,
        ref.versionName,
        this.env.WORKLOAD_READY_TIMEOUT_SECONDS * 1_000,
      );
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
    await this.routes.removeVersion(ref.runtimeId, ref.versionName);
    await this.driver.stop(ref.runtimeId, ref.versionName);
    await progress('remove-nats');
    await this.removeStreams(version);
    await this.removeStores(version);
    await removeKrt(this.nc, this.names.krtBucket(ref.runtimeId), ref.versionName);
    await progress('remove-archive');
    await this.archives.remove(ref.runtimeId, ref.versionName, version.krtChunks);
    await this.versions.remove(ref.runtimeId, ref.versionName);
  }

  private async deploy(version: VersionDoc, progress: Progress): Promise<void> {
    const { runtimeId: rt, name: ver, krt } = version;
    await progress('provision-streams');
    const jsm = await jetstreamManager(this.nc);
    for (const workflow of krt.workflows) {
      await provisionWorkflowStreams(jsm, this.names, rt, ver, workflow, {
        // The entrypoint's timeout bounds a request: a message older than that has no one waiting.
        maxAgeMs: Math.max(this.env.REQUEST_TIMEOUT_SECONDS * 1_000 * 10, 60_000),
      });
    }
    await progress('provision-stores');
    await provisionVersionStores(this.nc, this.names, rt, ver, krt.workflows);
    await progress('prepare');
    const workDir = join(
      this.env.stateDir,
      'prepare',
      `${rt}-${ver}-${randomBytes(4).toString('hex')}`,
    );
    try {
      // On Kubernetes each pod's fetch step installs them, in the runtime's namespace.
      const prepared =
        this.driver.installsDependencies === 'deployer'
          ? await this.prepare(version, workDir)
          : null;
      await progress('copy-krt');
      await storeKrt(
        this.nc,
        this.names.krtBucket(rt),
        ver,
        prepared ? createReadStream(prepared) : this.archives.open(rt, ver, version.krtChunks),
      );
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
    await progress('apply');
    await this.driver.apply(this.planOf(version));
    await progress('wait-ready');
    await this.driver.waitReady(rt, ver, this.env.WORKLOAD_READY_TIMEOUT_SECONDS * 1_000);
    await progress('route');
    const endpoints = await this.driver.endpoints(rt, ver);
    if (!endpoints) throw new Error('the entrypoint reported no endpoints');
    await this.routes.addVersion(rt, ver, endpoints);
  }

  /**
   * Installs the dependencies the KRT declares (cached by lockfile); the archive to copy to
   * workloads, or null when the upload needs nothing.
   */
  private async prepare(version: VersionDoc, workDir: string): Promise<string | null> {
    try {
      const prepared = await prepareKrt({
        archive: this.archives.open(version.runtimeId, version.name, version.krtChunks),
        prefix: this.names.prefix,
        runtimeId: version.runtimeId,
        workDir,
        cacheDir: join(this.env.stateDir, 'cache', 'dependencies'),
        registry: this.env.NPM_REGISTRY,
        hostPath: this.env.PATH,
        sandboxUser: { uid: this.env.SANDBOX_UID, gid: this.env.SANDBOX_GID },
        timeoutMs: this.env.KRT_PREPARE_TIMEOUT_SECONDS * 1_000,
      });
      for (const { dir, from } of prepared.installed)
        this.logger.log(
          `${version.runtimeId}/${version.name}: dependencies of ${dir} from ${from}`,
        );
      return prepared.archivePath;
    } catch (error) {
      if (error instanceof DependencyInstallError && !error.transient)
        throw new UnrecoverableError(error.message);
      throw error;
    }
  }

  private planOf(version: VersionDoc): DeploymentPlan {
    const variables: Record<string, string> = {};
    const files: Record<string, string> = {};
    for (const entry of version.config) {
      if (entry.value === undefined)
        throw new UnrecoverableError(`config "${entry.key}" has no value`);
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
    });
  }

  private async removeStreams(version: VersionDoc): Promise<void> {
    const jsm = await jetstreamManager(this.nc);
    for (const workflow of version.krt.workflows) {
      await deleteWorkflowStreams(jsm, this.names, version.runtimeId, version.name, workflow.name);
    }
  }

  private async removeStores(version: VersionDoc): Promise<void> {
    const { runtimeId: rt, name: ver } = version;
    const kvm = new Kvm(this.nc);
    const objm = new Objm(this.nc);
    const buckets = [this.names.projectBucket(rt, ver)];
    const stores: string[] = [];
    for (const wf of version.krt.workflows) {
      buckets.push(this.names.workflowBucket(rt, ver, wf.name));
      for (const node of wf.nodes) {
        buckets.push(this.names.nodeBucket(rt, ver, wf.name, node.name));
        if (node.objectStore) {
          const scope = node.objectStore.scope === 'workflow' ? wf.name : undefined;
          stores.push(this.names.objectStore(rt, ver, node.objectStore.name, scope));
        }
      }
    }
    for (const bucket of buckets)
      await ignoreMissing(async () => (await kvm.open(bucket)).destroy());
    for (const store of new Set(stores))
      await ignoreMissing(async () => (await objm.open(store)).destroy());
    this.logger.log(
      `removed ${buckets.length} KV buckets and ${stores.length} object stores of ${rt}/${ver}`,
    );
  }
}

/** A config changed this many times during one roll is left to the next job. */
const MAX_CONFIG_ROUNDS = 5;

function sealedConfig(version: VersionDoc): string {
  return JSON.stringify(version.config.map((entry) => [entry.key, entry.value ?? null]));
}

async function ignoreMissing(work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (!/not found|no such|does not exist/i.test(String(error))) throw error;
  }
}
