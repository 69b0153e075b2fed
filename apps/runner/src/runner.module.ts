import { type DynamicModule, Module } from '@nestjs/common';
import { NATS_CONNECTION, NatsModule, natsCheck } from '@libs/messaging';
import { HealthModule } from '@libs/observability';
import type { NatsConnection } from '@nats-io/transport-node';
import type { HandlerModule } from './handler-module.js';
import { HANDLER_MODULE, NodeRunner, RUNNER_ENV } from './node-runner.service.js';
import type { RunnerEnv } from './runner.env.js';

/** The node runner, global so the health checks can ask it whether it is bound. */
@Module({})
class NodeRunnerModule {
  static forRoot(env: RunnerEnv, handlerModule: HandlerModule): DynamicModule {
    return {
      module: NodeRunnerModule,
      global: true,
      providers: [
        { provide: RUNNER_ENV, useValue: env },
        { provide: HANDLER_MODULE, useValue: handlerModule },
        NodeRunner,
      ],
      exports: [NodeRunner],
    };
  }
}

/** Runs one node of a workflow: binds its consumers and calls the team's handler. */
@Module({})
export class RunnerModule {
  static forRoot(env: RunnerEnv, handlerModule: HandlerModule): DynamicModule {
    return {
      module: RunnerModule,
      imports: [
        NatsModule.forRoot({
          url: env.KRT_NATS_SERVER,
          name: `runner-${env.KRT_RUNTIME_ID}-${env.KRT_VERSION}-${env.KRT_WORKFLOW_NAME}-${env.KRT_NODE_ID}`,
        }),
        NodeRunnerModule.forRoot(env, handlerModule),
        HealthModule.forRoot({
          inject: [NATS_CONNECTION, NodeRunner],
          useFactory: (nats: NatsConnection, runner: NodeRunner) => [
            natsCheck(nats),
            {
              key: 'consumers',
              check: () => {
                const { ready, reason } = runner.readiness();
                return ready ? Promise.resolve() : Promise.reject(new Error(reason));
              },
            },
          ],
        }),
      ],
    };
  }
}
