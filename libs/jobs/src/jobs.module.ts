import { BullModule } from '@nestjs/bullmq';
import { type DynamicModule, Module } from '@nestjs/common';
import { RuntimeJobsProducer, VersionJobsProducer } from './job-producers.js';
import { LeaderLease } from './leader-lease.js';
import { QUEUES, redisOptions } from './queues.js';

export interface JobsOptions {
  redisUrl: string;
  /** The installation prefix (`KRE_PREFIX`): every BullMQ key starts with it. */
  prefix: string;
  role: 'worker' | 'producer';
}

/** BullMQ on Redis with KRE's queues registered. */
@Module({})
export class JobsModule {
  static forRoot(options: JobsOptions): DynamicModule {
    return {
      module: JobsModule,
      global: true,
      imports: [
        BullModule.forRoot({
          connection: redisOptions(options.redisUrl, options.role),
          prefix: options.prefix,
        }),
        BullModule.registerQueue(...QUEUES.map((name) => ({ name }))),
      ],
      providers: [
        VersionJobsProducer,
        RuntimeJobsProducer,
        {
          provide: LeaderLease,
          useFactory: () => LeaderLease.connect(options.redisUrl, options.prefix),
        },
      ],
      exports: [BullModule, VersionJobsProducer, RuntimeJobsProducer, LeaderLease],
    };
  }
}
