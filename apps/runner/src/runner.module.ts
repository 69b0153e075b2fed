import {
  type BeforeApplicationShutdown,
  type DynamicModule,
  Module,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { NATS_CONNECTION, NatsModule, natsCheck, payloadLimit } from '@libs/messaging';
import { HealthModule, tracing } from '@libs/observability';
import type { NatsConnection } from '@nats-io/transport-node';
import type { HandlerModule } from './handler.model.js';
import type { NodeRunner } from './node-runner.service.js';
import { composeRunner } from './runner.composition.js';
import type { RunnerEnv } from './runner.env.js';

/**
 * The runner inside Nest, which gives it the NATS connection (drained after the runner stops),
 * the health endpoints and the SIGTERM hooks; everything else is `composeRunner`'s.
 */
class RunnerHost implements OnApplicationBootstrap, BeforeApplicationShutdown {
  /**
   * Composed at bootstrap, not in a provider factory: Nest reports a factory's error itself and
   * exits, while an error here reaches runner.command ("cannot start").
   */
  private runner?: NodeRunner;

  constructor(private readonly compose: () => NodeRunner) {}

  async onApplicationBootstrap(): Promise<void> {
    this.runner = this.compose();
    await this.runner.start();
  }

  /** Before Nest closes the health server and drains NATS: finish the messages in flight. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.runner?.stop();
  }

  readiness(): { ready: boolean; reason: string } {
    return this.runner?.readiness() ?? { ready: false, reason: 'starting' };
  }
}

/**
 * The node's spans leave over its NATS connection, on its runtime's traces subject, when tracing
 * relays them (KRT_NATS_TRACES_SUBJECT; nothing happens otherwise): the runner flushes them at
 * stop, before the connection drains.
 */
function relaySpans(nc: NatsConnection): void {
  tracing().attachRelay(
    (subject, body) => nc.publish(subject, body),
    payloadLimit(nc.info?.max_payload ?? 1024 * 1024),
  );
}

/** The runner host, global so the health checks can ask it whether it is bound. */
@Module({})
class NodeRunnerModule {
  static forRoot(env: RunnerEnv, handlerModule: HandlerModule): DynamicModule {
    return {
      module: NodeRunnerModule,
      global: true,
      providers: [
        {
          provide: RunnerHost,
          inject: [NATS_CONNECTION],
          useFactory: (nc: NatsConnection) => {
            relaySpans(nc);
            return new RunnerHost(() => composeRunner(env, { nc, handlerModule }));
          },
        },
      ],
      exports: [RunnerHost],
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
          credentials: env.KRT_NATS_CREDS,
          inboxPrefix: env.KRT_NATS_INBOX_PREFIX,
          name: `runner-${env.KRT_RUNTIME_ID}-${env.KRT_VERSION}-${env.KRT_WORKFLOW_NAME}-${env.KRT_NODE_ID}`,
        }),
        NodeRunnerModule.forRoot(env, handlerModule),
        HealthModule.forRoot({
          inject: [NATS_CONNECTION, RunnerHost],
          useFactory: (nats: NatsConnection, runner: RunnerHost) => [
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
