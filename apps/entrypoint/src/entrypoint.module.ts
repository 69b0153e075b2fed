import { type DynamicModule, Module } from '@nestjs/common';
import { NATS_CONNECTION, NatsModule, natsCheck } from '@libs/messaging';
import { HealthModule } from '@libs/observability';
import type { NatsConnection } from '@nats-io/transport-node';
import type { EntrypointEnv } from './entrypoint.env.js';

/** One per started version: serves the version's proto over gRPC and HTTP/JSON (issue 6). */
@Module({})
export class EntrypointModule {
  static forRoot(env: EntrypointEnv): DynamicModule {
    return {
      module: EntrypointModule,
      imports: [
        NatsModule.forRoot({
          url: env.KRT_NATS_SERVER,
          name: `entrypoint-${env.KRT_RUNTIME_ID}-${env.KRT_VERSION}`,
        }),
        HealthModule.forRoot({
          inject: [NATS_CONNECTION],
          useFactory: (nats: NatsConnection) => [natsCheck(nats)],
        }),
      ],
    };
  }
}
