import { Inject, Injectable, Logger } from '@nestjs/common';
import type { RuntimeRef } from '@libs/jobs';
import { NatsProvisioner } from '@libs/messaging';
import type { OrchestratorDriver } from '@libs/orchestrator';
import { defaultRuntimeQuota } from '@libs/config';
import {
  RuntimeDatabases,
  RuntimesRepository,
  type RuntimeDoc,
  VersionsRepository,
  quotaOf,
} from '@libs/persistence';
import { UnrecoverableError } from 'bullmq';
import { DEPLOYER_ENV, type DeployerEnv } from './deployer.env.js';
import { ORCHESTRATOR_DRIVER } from './orchestrator.provider.js';
import type { Progress } from './version-deployment.service.js';
import { VersionDeploymentService } from './version-deployment.service.js';

/** Runtime jobs: what a tenant needs before its first version, and its complete removal. */
@Injectable()
export class RuntimeProvisioningService {
  private readonly logger = new Logger(RuntimeProvisioningService.name);

  constructor(
    private readonly runtimes: RuntimesRepository,
    private readonly versions: VersionsRepository,
    private readonly deployments: VersionDeploymentService,
    private readonly provisioner: NatsProvisioner,
    private readonly databases: RuntimeDatabases,
    @Inject(ORCHESTRATOR_DRIVER) private readonly driver: OrchestratorDriver,
    @Inject(DEPLOYER_ENV) private readonly env: DeployerEnv,
  ) {}

  async create(ref: RuntimeRef, progress: Progress): Promise<void> {
    const runtime = await this.runtimes.find(ref.runtimeId);
    if (!runtime) throw new UnrecoverableError(`runtime "${ref.runtimeId}" does not exist`);
    await this.refuseSharedTenancy(ref.runtimeId);
    await progress('orchestrator');
    // Kubernetes: the namespace's ResourceQuota from the runtime's quota (each start renews it).
    await this.driver.prepareRuntime(
      ref.runtimeId,
      quotaOf(runtime, defaultRuntimeQuota(this.env)),
    );
    await progress('observability-stream');
    // Read again: a quota set while the namespace was prepared applies (its own job found no stream).
    await this.provisioner.provisionRuntime(
      ref.runtimeId,
      this.obsLimits(await this.runtimes.get(ref.runtimeId)),
    );
    await progress('databases');
    // Indexes of the observability issue go here.
    await this.databases.create(ref.runtimeId);
    await this.runtimes.setStatus(ref.runtimeId, 'CREATED');
  }

  /**
   * Applies the runtime's quota to its observability stream in place (`max_bytes`, `max_age`;
   * shrinking drops the oldest records, which mongo-writer counts). Read again after applying:
   * a quota set meanwhile (whose job BullMQ deduplicated into this one) is applied too.
   */
  async applyQuota(ref: RuntimeRef): Promise<void> {
    let applied: string | undefined;
    for (let round = 0; round < 5; round++) {
      const runtime = await this.runtimes.find(ref.runtimeId);
      if (!runtime) return; // deleted meanwhile: nothing left to limit
      const limits = this.obsLimits(runtime);
      const key = JSON.stringify(limits);
      if (key === applied) return;
      if (!(await this.provisioner.updateObservabilityLimits(ref.runtimeId, limits))) {
        this.logger.log('no observability stream yet: its creation applies the quota', {
          runtimeId: ref.runtimeId,
        });
        return;
      }
      this.logger.log(
        `observability stream limits: ${limits.maxBytes} bytes, ${limits.maxAgeMs} ms`,
        { runtimeId: ref.runtimeId },
      );
      applied = key;
    }
  }

  private obsLimits(runtime: RuntimeDoc): { maxBytes: number; maxAgeMs: number } {
    const quota = quotaOf(runtime, defaultRuntimeQuota(this.env));
    return { maxBytes: quota.obsBytes, maxAgeMs: quota.obsMaxAgeMs };
  }

  /**
   * Where runtimes cannot be kept apart (one machine, the deployer not root), a second runtime
   * is refused unless the installation says it has one tenant (KRE_SINGLE_TENANT).
   */
  private async refuseSharedTenancy(runtimeId: string): Promise<void> {
    if (this.driver.isolatesRuntimes !== false || this.env.KRE_SINGLE_TENANT) return;
    const others = (await this.runtimes.list()).filter((r) => r._id !== runtimeId);
    if (others.length > 0)
      throw new UnrecoverableError(
        `this installation cannot keep runtimes apart (the deployer does not run as root, so every runtime's workloads would share one user): it runs one runtime ("${others[0]._id}" exists). Run the deployer as root, or set KRE_SINGLE_TENANT=true to accept one tenant's runtimes sharing a user`,
      );
  }

  /** Removes every version (workloads, NATS, archives), the streams, buckets and databases. */
  async delete(ref: RuntimeRef, progress: Progress): Promise<string[]> {
    const removed: string[] = [];
    for (const version of await this.versions.list(ref.runtimeId)) {
      await progress(`delete-version-${version.name}`);
      await this.deployments.delete(
        { runtimeId: ref.runtimeId, versionName: version.name, by: ref.by },
        progress,
      );
      removed.push(`version ${version.name}`);
    }
    await progress('nats');
    const nats = await this.provisioner.removeRuntime(ref.runtimeId);
    removed.push(`stream ${nats.observabilityStream}`, `object store ${nats.krtBucket}`);
    await progress('databases');
    for (const db of await this.databases.drop(ref.runtimeId)) removed.push(`database ${db}`);
    await progress('orchestrator');
    await this.driver.removeRuntime(ref.runtimeId);
    removed.push(`orchestrator objects of ${ref.runtimeId}`);
    await this.runtimes.remove(ref.runtimeId);
    this.logger.log(`runtime removed: ${removed.join(', ')}`, { runtimeId: ref.runtimeId });
    return removed;
  }
}
