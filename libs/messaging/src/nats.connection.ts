import { readFileSync } from 'node:fs';
import { AuthorizationError, connect, type NatsConnection } from '@nats-io/transport-node';
import { credsFileAuthenticator } from './auth/creds-authenticator.js';

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
        authenticator: credsFileAuthenticator(() => readFileSync(options.credentials)),
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
