import { type DynamicModule, Module } from '@nestjs/common';
import { getConnectionToken } from '@nestjs/mongoose';
import { NATS_CONNECTION, NatsModule, natsCheck } from '@libs/messaging';
import { Names } from '@libs/naming';
import { HealthModule, tracesUrl } from '@libs/observability';
import { PersistenceModule, mongoCheck } from '@libs/persistence';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Connection } from 'mongoose';
import { DataRequestsConsumer } from './data/data-requests.consumer.js';
import { RuntimeDataRepository } from './data/runtime-data.repository.js';
import type { MongoWriterEnv } from './mongo-writer.env.js';
import { ObsIngestionModule } from './obs/obs-ingestion.module.js';
import { TraceRelayModule } from './traces/trace-relay.module.js';
import { OBS_RETENTION_OPTIONS, ObsRetentionService } from './obs/obs-retention.service.js';
import {
  DEFAULT_OBS_INGESTION,
  type ObsIngestionOptions,
  ObsStreamsConsumer,
} from './obs/obs-streams.consumer.js';

/** The workloads' trace relay, when spans are exported (docs/observability.md, "Traces"). */
function traceRelay(env: MongoWriterEnv, names: Names): DynamicModule[] {
  const url = tracesUrl(env);
  return url
    ? [TraceRelayModule.forRoot(names, { url, flushMs: env.OTEL_BSP_SCHEDULE_DELAY })]
    : [];
}

/**
 * Answers runners' data requests (`db.save` / `db.find`) on the runtimes' data databases; writes
 * their logs, metrics, predictions and measurements from the runtimes' observability streams
 * into the runtimes' databases and drops their day collections past retention; with an OTLP
 * endpoint, forwards the spans the workloads relay over NATS (docs/observability.md).
 */
@Module({})
export class MongoWriterModule {
  static forRoot(
    env: MongoWriterEnv,
    ingestion: ObsIngestionOptions = DEFAULT_OBS_INGESTION,
  ): DynamicModule {
    const names = new Names(env.KRE_PREFIX);
    return {
      module: MongoWriterModule,
      imports: [
        PersistenceModule.forRoot({ url: env.MONGO_URL, dbName: names.platformDb() }),
        NatsModule.forRoot({
          url: env.NATS_URL,
          credentials: env.NATS_CREDS,
          name: `${env.KRE_PREFIX}-mongo-writer`,
          // Its identity receives replies (JetStream API, pulled records) only under this prefix.
          inboxPrefix: names.engineInboxPrefix('mongo-writer'),
        }),
        ObsIngestionModule.forRoot(names, ingestion),
        ...traceRelay(env, names),
        HealthModule.forRoot({
          inject: [getConnectionToken(), NATS_CONNECTION, ObsStreamsConsumer],
          useFactory: (mongo: Connection, nats: NatsConnection, obs: ObsStreamsConsumer) => [
            mongoCheck(mongo),
            natsCheck(nats),
            // Degraded, not down: records wait in the streams until writes succeed again.
            {
              key: 'ingestion',
              optional: true,
              check: () => obs.health(),
              details: () => obs.details(),
            },
          ],
        }),
      ],
      providers: [
        { provide: Names, useValue: names },
        RuntimeDataRepository,
        DataRequestsConsumer,
        {
          provide: OBS_RETENTION_OPTIONS,
          useValue: {
            defaultDays: env.OBS_RETENTION_DAYS,
            checkMs: env.OBS_RETENTION_CHECK_MINUTES * 60_000,
          },
        },
        ObsRetentionService,
      ],
    };
  }
}
