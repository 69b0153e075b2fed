import { type DynamicModule, Module } from '@nestjs/common';
import { CLOCK, systemClock } from '@libs/core';
import { NATS_CONNECTION, NatsModule, natsCheck } from '@libs/messaging';
import { Names } from '@libs/naming';
import { HealthModule } from '@libs/observability';
import type { NatsConnection } from '@nats-io/transport-node';
import type { GatewayEnv } from './gateway.env.js';
import { GATEWAY_ENV, GatewayService } from './gateway.service.js';

/** The gateway service, global so the health checks can ask whether it routes. */
@Module({})
class GatewayCoreModule {
  static forRoot(env: GatewayEnv): DynamicModule {
    return {
      module: GatewayCoreModule,
      global: true,
      providers: [
        { provide: GATEWAY_ENV, useValue: env },
        { provide: Names, useValue: new Names(env.KRE_PREFIX) },
        { provide: CLOCK, useValue: systemClock },
        GatewayService,
      ],
      exports: [GatewayService, Names],
    };
  }
}

/**
 * The runtimes' stable address; its routing table is the NATS KV bucket `<p>_gateway`, who may
 * call which runtime the bucket `<p>_invocation_keys`.
 */
@Module({})
export class GatewayModule {
  static forRoot(env: GatewayEnv): DynamicModule {
    return {
      module: GatewayModule,
      imports: [
        NatsModule.forRoot({
          url: env.NATS_URL,
          credentials: env.NATS_CREDS,
          name: `${env.KRE_PREFIX}-gateway`,
        }),
        GatewayCoreModule.forRoot(env),
        HealthModule.forRoot({
          inject: [NATS_CONNECTION, GatewayService],
          useFactory: (nats: NatsConnection, gateway: GatewayService) => [
            natsCheck(nats),
            {
              key: 'routes',
              check: () => {
                const { ready, reason } = gateway.readiness();
                return ready ? Promise.resolve() : Promise.reject(new Error(reason));
              },
            },
          ],
        }),
      ],
    };
  }
}
