export { DeployerClient, type DeployerStatus } from './deployer.client.js';
export { DeployerRpcModule } from './deployer-rpc.module.js';
export {
  NATS_CONNECTION,
  NatsModule,
  connectNats,
  natsCheck,
  type NatsOptions,
} from './nats.module.js';
