import { type DynamicModule, Module } from '@nestjs/common';
import { Names } from '@libs/naming';
import type { NatsConnection } from '@nats-io/transport-node';
import { DEPLOYER_RPC, DEPLOYER_SUBJECTS, DeployerClient } from './deployer.client.js';
import { deployerSubjects } from './deployer-rpc.schema.js';
import { NATS_CONNECTION } from './nats.module.js';
import { NatsRpcClient } from './nats-rpc.transport.js';

export interface DeployerRpcOptions {
  /** `KRE_PREFIX`: the subjects are `<p>.svc.deployer.<pattern>`. */
  prefix: string;
}

/**
 * DeployerClient: a Nest NATS-transport client for the deployer's request/reply subjects, on
 * the app's one NATS connection (import NatsModule.forRoot too).
 */
@Module({})
export class DeployerRpcModule {
  static forRoot(options: DeployerRpcOptions): DynamicModule {
    return {
      module: DeployerRpcModule,
      global: true,
      providers: [
        {
          provide: DEPLOYER_RPC,
          inject: [NATS_CONNECTION],
          useFactory: (nc: NatsConnection) => new NatsRpcClient(nc),
        },
        {
          provide: DEPLOYER_SUBJECTS,
          useValue: deployerSubjects(new Names(options.prefix)),
        },
        DeployerClient,
      ],
      exports: [DeployerClient],
    };
  }
}
