export {
  NATS_CONNECTION,
  NatsModule,
  connectNats,
  natsCheck,
  type NatsOptions,
} from './nats.module.js';
