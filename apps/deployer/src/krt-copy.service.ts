import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { NatsProvisioner, type VersionResources } from '@libs/messaging';
import {
  DependencyInstallError,
  PythonEnvs,
  prepareKrt,
  type OrchestratorDriver,
} from '@libs/orchestrator';
import { KrtArchiveStore, type VersionDoc } from '@libs/persistence';
import { UnrecoverableError } from 'bullmq';
import { DEPLOYER_ENV, type DeployerEnv } from './deployer.env.js';
import { ORCHESTRATOR_DRIVER } from './orchestrator.provider.js';

/**
 * The KRT on its way to workloads: prepared once (the dependencies it declares, installed in the
 * sandbox, where the driver leaves that to the deployer) and copied into the runtime's KRT
 * object store, where every workload's fetch step takes it from.
 */
@Injectable()
export class KrtCopyService {
  private readonly logger = new Logger(KrtCopyService.name);

  constructor(
    private readonly archives: KrtArchiveStore,
    private readonly provisioner: NatsProvisioner,
    @Inject(ORCHESTRATOR_DRIVER) private readonly driver: OrchestratorDriver,
    @Inject(DEPLOYER_ENV) private readonly env: DeployerEnv,
    private readonly pythonEnvs: PythonEnvs,
  ) {}

  /**
   * Prepares (when this driver wants it) and stores the version's KRT copy; its sha256 (hex),
   * which workloads' fetch step checks the copy against.
   */
  async copy(
    version: VersionDoc,
    resources: VersionResources,
    progress: (step: string) => Promise<void>,
  ): Promise<string> {
    await progress('prepare');
    const workDir = join(
      this.env.stateDir,
      'prepare',
      `${version.runtimeId}-${version.name}-${randomBytes(4).toString('hex')}`,
    );
    try {
      // On Kubernetes each pod's fetch step installs them, in the runtime's namespace.
      const prepared =
        this.driver.installsDependencies === 'deployer'
          ? await this.prepare(version, workDir)
          : null;
      await progress('copy-krt');
      return await this.provisioner.storeKrt(
        resources,
        prepared ? createReadStream(prepared) : this.upload(version),
      );
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }

  /** Removes the uploaded archive (the system of record) of a deleted version. */
  removeUpload(version: VersionDoc): Promise<void> {
    return this.archives.remove(version.runtimeId, version.name, version.krtChunks);
  }

  private upload(version: VersionDoc) {
    return this.archives.open(version.runtimeId, version.name, version.krtChunks);
  }

  /**
   * Installs the dependencies the KRT declares (cached by lockfile); the archive to copy to
   * workloads, or null when the upload needs nothing.
   */
  private async prepare(version: VersionDoc, workDir: string): Promise<string | null> {
    try {
      const prepared = await prepareKrt({
        archive: this.upload(version),
        prefix: this.env.KRE_PREFIX,
        runtimeId: version.runtimeId,
        workDir,
        cacheDir: join(this.env.stateDir, 'cache', 'dependencies'),
        registry: this.env.NPM_REGISTRY,
        hostPath: this.env.PATH,
        sandboxUser: { uid: this.env.SANDBOX_UID, gid: this.env.SANDBOX_GID },
        timeoutMs: this.env.KRT_PREPARE_TIMEOUT_SECONDS * 1_000,
        pythonEnvs: this.pythonEnvs,
      });
      const where = { runtimeId: version.runtimeId, versionName: version.name };
      for (const { dir, from } of prepared.installed)
        this.logger.log(`dependencies of ${dir} from ${from}`, where);
      for (const { requirements, from } of prepared.python)
        this.logger.log(`Python environment of ${requirements ?? 'the runner'}: ${from}`, where);
      return prepared.archivePath;
    } catch (error) {
      if (error instanceof DependencyInstallError && !error.transient)
        throw new UnrecoverableError(error.message);
      throw error;
    }
  }
}
