import { type DynamicModule, Module } from '@nestjs/common';
import { NATS_CONNECTION, NatsModule, natsCheck } from '@libs/messaging';
import { HealthModule } from '@libs/observability';
import type { NatsConnection } from '@nats-io/transport-node';
import type { RunnerEnv } from './runner.env.js';

/** Runs one node of a workflow: binds its consumers and calls the team's handler (issue 6). */
@Module({})
export class RunnerModule {
  static forRoot(env: RunnerEnv): DynamicModule {
    return {
      module: RunnerModule,
      imports: [
        NatsModule.forRoot({
          url: env.KRT_NATS_SERVER,
          name: `runner-${env.KRT_RUNTIME_ID}-${env.KRT_VERSION}-${env.KRT_WORKFLOW_NAME}-${env.KRT_NODE_ID}`,
        }),
        HealthModule.forRoot({
          inject: [NATS_CONNECTION],
          useFactory: (nats: NatsConnection) => [natsCheck(nats)],
        }),
      ],
    };
  }
}
