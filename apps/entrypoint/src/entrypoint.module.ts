import { type DynamicModule, Module } from '@nestjs/common';
import { NATS_CONNECTION, NatsModule, natsCheck } from '@libs/messaging';
import { HealthModule } from '@libs/observability';
import type { NatsConnection } from '@nats-io/transport-node';
import type { EntrypointEnv } from './entrypoint.env.js';
import { ENTRYPOINT_ENV, EntrypointService } from './entrypoint.service.js';

/** The entrypoint service, global so the health checks can ask whether it serves. */
@Module({})
class EntrypointCoreModule {
  static forRoot(env: EntrypointEnv): DynamicModule {
    return {
      module: EntrypointCoreModule,
      global: true,
      providers: [{ provide: ENTRYPOINT_ENV, useValue: env }, EntrypointService],
      exports: [EntrypointService],
    };
  }
}

/** One per started version: serves the version's proto over gRPC and HTTP/JSON. */
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
        EntrypointCoreModule.forRoot(env),
        HealthModule.forRoot({
          inject: [NATS_CONNECTION, EntrypointService],
          useFactory: (nats: NatsConnection, entrypoint: EntrypointService) => [
            natsCheck(nats),
            {
              key: 'servers',
              check: () => {
                const { ready, reason } = entrypoint.readiness();
                return ready ? Promise.resolve() : Promise.reject(new Error(reason));
              },
            },
          ],
        }),
      ],
    };
  }
}
