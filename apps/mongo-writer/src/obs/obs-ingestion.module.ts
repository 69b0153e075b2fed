import { type DynamicModule, Module } from '@nestjs/common';
import { Names } from '@libs/naming';
import { ObsRecordsRepository } from './obs-records.repository.js';
import {
  DEFAULT_OBS_INGESTION,
  OBS_INGESTION_OPTIONS,
  type ObsIngestionOptions,
  ObsStreamsConsumer,
} from './obs-streams.consumer.js';

/**
 * The observability streams' ingestion. Global, so the app's health checks can ask it how the
 * writes go.
 */
@Module({})
export class ObsIngestionModule {
  static forRoot(
    names: Names,
    options: ObsIngestionOptions = DEFAULT_OBS_INGESTION,
  ): DynamicModule {
    return {
      module: ObsIngestionModule,
      global: true,
      providers: [
        { provide: Names, useValue: names },
        { provide: OBS_INGESTION_OPTIONS, useValue: options },
        ObsRecordsRepository,
        ObsStreamsConsumer,
      ],
      exports: [ObsStreamsConsumer],
    };
  }
}
