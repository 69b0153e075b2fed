import { type DynamicModule, Module } from '@nestjs/common';
import { ClientsModule, Transport } from '@nestjs/microservices';
import { Names } from '@libs/naming';
import {
  DEPLOYER_RPC,
  DEPLOYER_SUBJECTS,
  DeployerClient,
  deployerSubjects,
} from './deployer.client.js';

/** A Nest NATS-transport client for the deployer's request/reply subjects. */
@Module({})
export class DeployerRpcModule {
  static forRoot(options: { url: string; prefix: string; name: string }): DynamicModule {
    return {
      module: DeployerRpcModule,
      global: true,
      imports: [
        ClientsModule.register([
          {
            name: DEPLOYER_RPC,
            transport: Transport.NATS,
            options: { servers: options.url, name: options.name, maxReconnectAttempts: -1 },
          },
        ]),
      ],
      providers: [
        DeployerClient,
        {
          provide: DEPLOYER_SUBJECTS,
          useValue: deployerSubjects(new Names(options.prefix)),
        },
      ],
      exports: [DeployerClient],
    };
  }
}
