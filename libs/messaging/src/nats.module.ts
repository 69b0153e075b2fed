import {
  type DynamicModule,
  Inject,
  Injectable,
  Logger,
  Module,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { readFileSync } from 'node:fs';
import {
  AuthorizationError,
  connect,
  credsAuthenticator,
  type NatsConnection,
} from '@nats-io/transport-node';

/** Injection token of the app's `NatsConnection` (`@nats-io/transport-node`). */
export const NATS_CONNECTION = Symbol('NATS_CONNECTION');

export interface NatsOptions {
  /** `NATS_URL`. */
  url: string;
  /** Connection name shown by the server (`kre-<app>`). */
  name: string;
  /**
   * Path of the identity's `.creds` file (`NATS_CREDS`, `KRT_NATS_CREDS`): NATS refuses
   * anonymous connections. Read again at each (re)connect, so replaced credentials take effect.
   */
  credentials: string;
  /** Where replies come back (`KRT_NATS_INBOX_PREFIX`): workloads may only receive under theirs. */
  inboxPrefix?: string;
}

/** How long a first connection is retried (a NATS restarting, or slow under load) before failing. */
const FIRST_CONNECT_MS = 60_000;

/**
 * Opens the connection with reconnects on, so a NATS restart is survived without a crash. A first
 * connection that fails is tried again for a minute (refused credentials fail at once).
 */
export async function connectNats(options: NatsOptions): Promise<NatsConnection> {
  const deadline = Date.now() + FIRST_CONNECT_MS;
  for (;;) {
    try {
      return await connect({
        servers: options.url,
        name: options.name,
        authenticator: credsAuthenticator(() => readFileSync(options.credentials)),
        ...(options.inboxPrefix ? { inboxPrefix: options.inboxPrefix } : {}),
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        timeout: 10_000,
      });
    } catch (error) {
      // Refused credentials fail at once; a server that timed the handshake out (load) is asked again.
      const refused = error instanceof AuthorizationError && !/timeout/i.test(error.message);
      if (refused || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

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

/** Health check of a NATS connection: a round trip to the server. */
export function natsCheck(nc: NatsConnection): { key: string; check: () => Promise<unknown> } {
  return {
    key: 'nats',
    check: async () => {
      if (nc.isClosed()) throw new Error('connection closed');
      await nc.flush();
    },
  };
}
