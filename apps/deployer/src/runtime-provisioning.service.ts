import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import type { RuntimeRef } from '@libs/jobs';
import { NATS_CONNECTION, provisionObservabilityStream } from '@libs/messaging';
import { Names } from '@libs/naming';
import { RuntimesRepository, VersionsRepository } from '@libs/persistence';
import { jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Connection } from 'mongoose';
import { UnrecoverableError } from 'bullmq';
import type { Progress } from './version-deployment.service.js';
import { VersionDeploymentService } from './version-deployment.service.js';
import { ORCHESTRATOR_DRIVER } from './orchestrator.provider.js';
import type { OrchestratorDriver } from '@libs/orchestrator';

/** Runtime jobs: what a tenant needs before its first version, and its complete removal. */
@Injectable()
export class RuntimeProvisioningService {
  private readonly logger = new Logger(RuntimeProvisioningService.name);

  constructor(
    private readonly runtimes: RuntimesRepository,
    private readonly versions: VersionsRepository,
    private readonly deployments: VersionDeploymentService,
    private readonly names: Names,
    @InjectConnection() private readonly connection: Connection,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(ORCHESTRATOR_DRIVER) private readonly driver: OrchestratorDriver,
  ) {}

  async create(ref: RuntimeRef, progress: Progress): Promise<void> {
    const runtime = await this.runtimes.find(ref.runtimeId);
    if (!runtime) throw new UnrecoverableError(`runtime "${ref.runtimeId}" does not exist`);
    await progress('orchestrator');
    await this.driver.prepareRuntime(ref.runtimeId);
    await progress('observability-stream');
    await provisionObservabilityStream(await jetstreamManager(this.nc), this.names, ref.runtimeId);
    await progress('databases');
    // Databases appear with their first collection; indexes of the observability issue go here.
    const data = this.connection.useDb(this.names.runtimeDataDb(ref.runtimeId), { useCache: true });
    await data.createCollection('_kre').catch(ignoreExists);
    const records = this.connection.useDb(this.names.runtimeDb(ref.runtimeId), { useCache: true });
    await records.createCollection('_kre').catch(ignoreExists);
    await this.runtimes.setStatus(ref.runtimeId, 'CREATED');
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
    const jsm = await jetstreamManager(this.nc);
    await jsm.streams.delete(this.names.obsStream(ref.runtimeId)).catch(() => false);
    removed.push(`stream ${this.names.obsStream(ref.runtimeId)}`);
    await (
      await new Objm(this.nc).open(this.names.krtBucket(ref.runtimeId)).catch(() => null)
    )?.destroy();
    removed.push(`object store ${this.names.krtBucket(ref.runtimeId)}`);
    await progress('databases');
    for (const db of [
      this.names.runtimeDb(ref.runtimeId),
      this.names.runtimeDataDb(ref.runtimeId),
    ]) {
      await this.connection.useDb(db, { useCache: true }).dropDatabase();
      removed.push(`database ${db}`);
    }
    await progress('orchestrator');
    await this.driver.removeRuntime(ref.runtimeId);
    removed.push(`orchestrator objects of ${ref.runtimeId}`);
    await this.runtimes.remove(ref.runtimeId);
    this.logger.log(`runtime ${ref.runtimeId} removed: ${removed.join(', ')}`);
    return removed;
  }
}

function ignoreExists(error: unknown): void {
  if (!/already exists/i.test(String(error))) throw error;
}
