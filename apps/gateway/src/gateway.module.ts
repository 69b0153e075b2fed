import { type DynamicModule, Module } from '@nestjs/common';
import { NATS_CONNECTION, NatsModule, natsCheck } from '@libs/messaging';
import { Names } from '@libs/naming';
import { HealthModule } from '@libs/observability';
import type { NatsConnection } from '@nats-io/transport-node';
import type { GatewayEnv } from './gateway.env.js';

/** The runtimes' stable address; its routing table is the NATS KV bucket `<p>_gateway` (issue 6). */
@Module({})
export class GatewayModule {
  static forRoot(env: GatewayEnv): DynamicModule {
    return {
      module: GatewayModule,
      imports: [
        NatsModule.forRoot({ url: env.NATS_URL, name: `${env.KRE_PREFIX}-gateway` }),
        HealthModule.forRoot({
          inject: [NATS_CONNECTION],
          useFactory: (nats: NatsConnection) => [natsCheck(nats)],
        }),
      ],
      providers: [{ provide: Names, useValue: new Names(env.KRE_PREFIX) }],
    };
  }
}
