import {
  type DynamicModule,
  Inject,
  Injectable,
  Logger,
  Module,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { type NatsOptions, connectNats } from './nats.connection.js';

export { type NatsOptions, connectNats, natsCheck } from './nats.connection.js';

/** Injection token of the app's `NatsConnection` (`@nats-io/transport-node`). */
export const NATS_CONNECTION = Symbol('NATS_CONNECTION');

@Injectable()
class NatsConnectionLifecycle implements OnApplicationShutdown {
  private readonly logger = new Logger('Nats');
  constructor(@Inject(NATS_CONNECTION) private readonly nc: NatsConnection) {}

  /** Flush what is in flight, then close. */
  async onApplicationShutdown(): Promise<void> {
    if (this.nc.isClosed()) return;
    try {
      await this.nc.drain();
      this.logger.log('NATS connection drained');
    } catch (error) {
      this.logger.warn(`drain failed: ${String(error)}`);
    }
  }
}

/** Provides one `NatsConnection` per app and drains it on shutdown. */
@Module({})
export class NatsModule {
  static forRoot(options: NatsOptions): DynamicModule {
    return {
      module: NatsModule,
      global: true,
      providers: [
        { provide: NATS_CONNECTION, useFactory: () => connectNats(options) },
        NatsConnectionLifecycle,
      ],
      exports: [NATS_CONNECTION],
    };
  }
}
