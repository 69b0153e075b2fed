import {
  type BeforeApplicationShutdown,
  type DynamicModule,
  Module,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { NATS_CONNECTION, NatsModule, natsCheck, payloadLimit } from '@libs/messaging';
import { HealthModule, tracing } from '@libs/observability';
import type { NatsConnection } from '@nats-io/transport-node';
import { composeEntrypoint } from './entrypoint.composition.js';
import type { EntrypointEnv } from './entrypoint.env.js';
import type { EntrypointService } from './entrypoint.service.js';

/**
 * The entrypoint inside Nest, which gives it the NATS connection (drained after the servers
 * stop), the health endpoints and the SIGTERM hooks; everything else is `composeEntrypoint`'s.
 */
class EntrypointHost implements OnApplicationBootstrap, BeforeApplicationShutdown {
  /**
   * Composed at bootstrap, not in a provider factory: Nest reports a factory's error itself and
   * exits, while an error here reaches main.ts ("cannot start").
   */
  private entrypoint?: EntrypointService;

  constructor(private readonly compose: () => EntrypointService) {}

  async onApplicationBootstrap(): Promise<void> {
    this.entrypoint = this.compose();
    await this.entrypoint.start();
  }

  /**
   * Before Nest closes the health server and drains NATS: finish the requests in progress, then
   * export the spans still buffered (relayed ones go out on the connection before it drains).
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.entrypoint?.stop();
    await tracing().shutdown();
  }

  readiness(): { ready: boolean; reason: string } {
    return this.entrypoint?.readiness() ?? { ready: false, reason: 'starting' };
  }
}

/** The entrypoint host, global so the health checks can ask whether it serves. */
@Module({})
class EntrypointCoreModule {
  static forRoot(env: EntrypointEnv): DynamicModule {
    return {
      module: EntrypointCoreModule,
      global: true,
      providers: [
        {
          provide: EntrypointHost,
          inject: [NATS_CONNECTION],
          useFactory: (nc: NatsConnection) => {
            // Its spans leave over this connection when tracing relays them (a workload's
            // KRT_NATS_TRACES_SUBJECT); nothing happens otherwise.
            tracing().attachRelay(
              (subject, body) => nc.publish(subject, body),
              payloadLimit(nc.info?.max_payload ?? 1024 * 1024),
            );
            return new EntrypointHost(() => composeEntrypoint(env, { nc }));
          },
        },
      ],
      exports: [EntrypointHost],
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
          credentials: env.KRT_NATS_CREDS,
          inboxPrefix: env.KRT_NATS_INBOX_PREFIX,
          name: `entrypoint-${env.KRT_RUNTIME_ID}-${env.KRT_VERSION}`,
        }),
        EntrypointCoreModule.forRoot(env),
        HealthModule.forRoot({
          inject: [NATS_CONNECTION, EntrypointHost],
          useFactory: (nats: NatsConnection, entrypoint: EntrypointHost) => [
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
