import { type DynamicModule, Module } from '@nestjs/common';
import { getConnectionToken } from '@nestjs/mongoose';
import { NATS_CONNECTION, NatsModule, natsCheck } from '@libs/messaging';
import { Names } from '@libs/naming';
import { HealthModule } from '@libs/observability';
import { PersistenceModule, mongoCheck } from '@libs/persistence';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Connection } from 'mongoose';
import { DataRequestsConsumer } from './data/data-requests.consumer.js';
import { RuntimeDataRepository } from './data/runtime-data.repository.js';
import type { MongoWriterEnv } from './mongo-writer.env.js';

/**
 * Answers runners' data requests (`db.save` / `db.find`) on the runtimes' data databases; writes
 * their logs, metrics and predictions (consumers: the observability issue).
 */
@Module({})
export class MongoWriterModule {
  static forRoot(env: MongoWriterEnv): DynamicModule {
    const names = new Names(env.KRE_PREFIX);
    return {
      module: MongoWriterModule,
      imports: [
        PersistenceModule.forRoot({ url: env.MONGO_URL, dbName: names.platformDb() }),
        NatsModule.forRoot({
          url: env.NATS_URL,
          credentials: env.NATS_CREDS,
          name: `${env.KRE_PREFIX}-mongo-writer`,
        }),
        HealthModule.forRoot({
          inject: [getConnectionToken(), NATS_CONNECTION],
          useFactory: (mongo: Connection, nats: NatsConnection) => [
            mongoCheck(mongo),
            natsCheck(nats),
          ],
        }),
      ],
      providers: [{ provide: Names, useValue: names }, RuntimeDataRepository, DataRequestsConsumer],
    };
  }
}
