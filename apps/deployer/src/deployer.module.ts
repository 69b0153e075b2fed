import { type DynamicModule, Module } from '@nestjs/common';
import { getQueueToken } from '@nestjs/bullmq';
import { getConnectionToken } from '@nestjs/mongoose';
import { JobsModule, VERSIONS_QUEUE, redisCheck } from '@libs/jobs';
import { NATS_CONNECTION, NatsModule, natsCheck } from '@libs/messaging';
import { Names } from '@libs/naming';
import { HealthModule } from '@libs/observability';
import { PersistenceModule, mongoCheck } from '@libs/persistence';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Queue } from 'bullmq';
import type { Connection } from 'mongoose';
import { DEPLOYER_ENV, type DeployerEnv } from './deployer.env.js';
import { deployerStatusController } from './deployer-status.controller.js';
import { RuntimesProcessor, VersionsProcessor } from './jobs.processor.js';

@Module({})
export class DeployerModule {
  static forRoot(env: DeployerEnv): DynamicModule {
    const names = new Names(env.KRE_PREFIX);
    const startedAt = new Date().toISOString();
    return {
      module: DeployerModule,
      imports: [
        PersistenceModule.forRoot({ url: env.MONGO_URL, dbName: names.platformDb() }),
        JobsModule.forRoot({
          redisUrl: env.REDIS_URL,
          prefix: names.queuePrefix(),
          role: 'worker',
        }),
        NatsModule.forRoot({ url: env.NATS_URL, name: `${env.KRE_PREFIX}-deployer` }),
        HealthModule.forRoot({
          inject: [getConnectionToken(), getQueueToken(VERSIONS_QUEUE), NATS_CONNECTION],
          useFactory: (mongo: Connection, queue: Queue, nats: NatsConnection) => [
            mongoCheck(mongo),
            redisCheck(queue),
            natsCheck(nats),
          ],
        }),
      ],
      controllers: [
        deployerStatusController(names.serviceSubject('deployer', 'status'), () => ({
          orchestrator: env.ORCHESTRATOR,
          startedAt,
          pid: process.pid,
        })),
      ],
      providers: [
        { provide: DEPLOYER_ENV, useValue: env },
        { provide: Names, useValue: names },
        RuntimesProcessor,
        VersionsProcessor,
      ],
    };
  }
}
