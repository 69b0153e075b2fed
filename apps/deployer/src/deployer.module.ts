import { type DynamicModule, Module } from '@nestjs/common';
import { getQueueToken } from '@nestjs/bullmq';
import { getConnectionToken } from '@nestjs/mongoose';
import { JobsModule, VERSIONS_QUEUE, redisCheck } from '@libs/jobs';
import {
  EngineLogPublisher,
  GatewayRoutes,
  NATS_CONNECTION,
  NatsModule,
  NATS_AUTHORITY,
  NatsProvisioner,
  WorkloadIdentities,
  deployerSubjects,
  natsCheck,
} from '@libs/messaging';
import { Names } from '@libs/naming';
import { HealthModule } from '@libs/observability';
import { CatalogModule, PersistenceModule, RuntimeDatabases, mongoCheck } from '@libs/persistence';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Queue } from 'bullmq';
import type { Connection } from 'mongoose';
import { DEPLOYER_ENV, type DeployerEnv } from './deployer.env.js';
import { deployerStatusController } from './deployer-status.controller.js';
import { nodeStatusController } from './node-status.controller.js';
import { RuntimesProcessor, VersionsProcessor } from './jobs.processor.js';
import { PythonEnvs } from '@libs/orchestrator';
import {
  ORCHESTRATOR_DRIVER,
  OrchestratorLifecycle,
  orchestratorDriverFactory,
  pythonEnvsFactory,
} from './orchestrator.provider.js';
import { ReconcilerService } from './reconciler.service.js';
import { REPLICA_WATCH_PERIOD_MS, ReplicaWatchService } from './replica-watch.service.js';
import { REPLICA_USAGE_PERIOD_MS, ReplicaUsageService } from './replica-usage.service.js';
import { VersionLogService } from './version-log.service.js';
import { RuntimeProvisioningService } from './runtime-provisioning.service.js';
import { KrtCopyService } from './krt-copy.service.js';
import { VersionDeploymentService } from './version-deployment.service.js';
import { VersionPlanner } from './version-planner.service.js';
import { VersionWorkloads } from './version-workloads.service.js';
import { IDLE_SWEEP_MS, VersionScaleService } from './version-scale.service.js';
import { EntrypointLoad } from './entrypoint-load.js';
import { GatewayScaleConsumer } from './gateway-scale.consumer.js';
import { AUTOSCALE_SAMPLE_MS, NodeAutoscalingService } from './node-autoscaling.service.js';

@Module({})
export class DeployerModule {
  /** `programsDir`: where the built `entrypoint` and `runner` programs are (`dist/apps`). */
  static forRoot(env: DeployerEnv, programsDir: string): DynamicModule {
    const names = new Names(env.KRE_PREFIX);
    const subjects = deployerSubjects(names);
    const startedAt = new Date().toISOString();
    // How workloads are confined, filled in once the driver exists (/health shows it).
    const isolation: Record<string, string> = { orchestrator: env.ORCHESTRATOR };
    return {
      module: DeployerModule,
      imports: [
        PersistenceModule.forRoot({ url: env.MONGO_URL, dbName: names.platformDb() }),
        CatalogModule.forRoot({ configEncryptionKey: env.CONFIG_ENCRYPTION_KEY }),
        JobsModule.forRoot({
          redisUrl: env.REDIS_URL,
          prefix: names.queuePrefix(),
          role: 'worker',
        }),
        NatsModule.forRoot({
          url: env.NATS_URL,
          credentials: env.NATS_CREDS,
          name: `${env.KRE_PREFIX}-deployer`,
        }),
        HealthModule.forRoot({
          inject: [getConnectionToken(), getQueueToken(VERSIONS_QUEUE), NATS_CONNECTION],
          useFactory: (mongo: Connection, queue: Queue, nats: NatsConnection) => [
            mongoCheck(mongo),
            redisCheck(queue),
            natsCheck(nats),
            { key: 'workloads', check: () => Promise.resolve(), details: () => isolation },
          ],
        }),
      ],
      controllers: [
        deployerStatusController(subjects.status, () => ({
          orchestrator: env.ORCHESTRATOR,
          startedAt,
          pid: process.pid,
        })),
        nodeStatusController(subjects.nodeStatus),
      ],
      providers: [
        { provide: DEPLOYER_ENV, useValue: env },
        { provide: Names, useValue: names },
        // One for the driver and the preparation: builds of the same key are shared.
        { provide: PythonEnvs, useFactory: () => pythonEnvsFactory(env, programsDir) },
        {
          provide: ORCHESTRATOR_DRIVER,
          inject: [PythonEnvs],
          useFactory: async (pythonEnvs: PythonEnvs) => {
            const driver = await orchestratorDriverFactory(env, programsDir, pythonEnvs);
            Object.assign(isolation, driver.isolation?.());
            return driver;
          },
        },
        {
          provide: GatewayRoutes,
          inject: [NATS_CONNECTION],
          useFactory: (nc: NatsConnection) => GatewayRoutes.open(nc, names),
        },
        OrchestratorLifecycle,
        NatsProvisioner,
        { provide: NATS_AUTHORITY, useValue: { file: env.NATS_AUTHORITY_FILE, url: env.NATS_URL } },
        WorkloadIdentities,
        RuntimeDatabases,
        VersionPlanner,
        KrtCopyService,
        VersionWorkloads,
        VersionDeploymentService,
        RuntimeProvisioningService,
        ReconcilerService,
        EngineLogPublisher,
        VersionLogService,
        { provide: REPLICA_WATCH_PERIOD_MS, useValue: 5_000 },
        ReplicaWatchService,
        { provide: REPLICA_USAGE_PERIOD_MS, useValue: 15_000 },
        ReplicaUsageService,
        { provide: IDLE_SWEEP_MS, useValue: 1_000 },
        VersionScaleService,
        EntrypointLoad,
        GatewayScaleConsumer,
        { provide: AUTOSCALE_SAMPLE_MS, useValue: 500 },
        NodeAutoscalingService,
        RuntimesProcessor,
        VersionsProcessor,
      ],
    };
  }
}
