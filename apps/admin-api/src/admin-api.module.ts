import { type DynamicModule, Module } from '@nestjs/common';
import { getQueueToken } from '@nestjs/bullmq';
import { getConnectionToken } from '@nestjs/mongoose';
import { JobsModule, VERSIONS_QUEUE, redisCheck } from '@libs/jobs';
import {
  DeployerClient,
  DeployerRpcModule,
  NATS_CONNECTION,
  NatsModule,
  natsCheck,
} from '@libs/messaging';
import { Names } from '@libs/naming';
import { HealthModule } from '@libs/observability';
import { PersistenceModule, mongoCheck } from '@libs/persistence';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Queue } from 'bullmq';
import type { Connection } from 'mongoose';
import { ADMIN_API_ENV, type AdminApiEnv } from './admin-api.env.js';

@Module({})
export class AdminApiModule {
  static forRoot(env: AdminApiEnv): DynamicModule {
    const names = new Names(env.KRE_PREFIX);
    return {
      module: AdminApiModule,
      imports: [
        PersistenceModule.forRoot({ url: env.MONGO_URL, dbName: names.platformDb() }),
        JobsModule.forRoot({
          redisUrl: env.REDIS_URL,
          prefix: names.queuePrefix(),
          role: 'producer',
        }),
        NatsModule.forRoot({ url: env.NATS_URL, name: `${env.KRE_PREFIX}-admin-api` }),
        DeployerRpcModule.forRoot({
          url: env.NATS_URL,
          prefix: env.KRE_PREFIX,
          name: `${env.KRE_PREFIX}-admin-api-rpc`,
        }),
        HealthModule.forRoot({
          inject: [
            getConnectionToken(),
            getQueueToken(VERSIONS_QUEUE),
            NATS_CONNECTION,
            DeployerClient,
          ],
          useFactory: (
            mongo: Connection,
            queue: Queue,
            nats: NatsConnection,
            deployer: DeployerClient,
          ) => [
            mongoCheck(mongo),
            redisCheck(queue),
            natsCheck(nats),
            // Jobs wait in Redis while no deployer runs: the API still serves.
            { key: 'deployer', optional: true, check: () => deployer.status() },
          ],
        }),
      ],
      providers: [
        { provide: ADMIN_API_ENV, useValue: env },
        { provide: Names, useValue: names },
      ],
      exports: [ADMIN_API_ENV, Names],
    };
  }
}
