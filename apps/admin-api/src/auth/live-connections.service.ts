import { NATS_CONNECTION } from '@libs/messaging';
import { Names } from '@libs/naming';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { WebSocket } from 'ws';
import { ADMIN_API_ENV, type AdminApiEnv } from '../admin-api.env.js';
import { Authenticator } from './authenticator.service.js';
import type { Principal } from './principal.js';
import { TokenCache } from './token-cache.js';

/** Which credentials died: every session or token of some users, or exact credentials. */
export interface Revocation {
  userIds?: string[];
  /** Only credentials of this kind (e.g. `revokeUserSessions` leaves API tokens alone). */
  via?: Principal['via'];
  credentialHashes?: string[];
}

/** graphql-ws close code for a connection whose credentials were revoked or expired. */
export const WS_CLOSE_REVOKED = 4401;

/**
 * The open GraphQL WebSockets of this replica and the credential each authenticated with.
 * Revocations travel over NATS to every replica, which closes the matching sockets at once
 * (their subscriptions end with them); a periodic re-check also closes sockets whose session or
 * token expired or vanished without a message (e.g. while NATS was unreachable).
 */
@Injectable()
export class LiveConnections implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(LiveConnections.name);
  private readonly open = new Map<WebSocket, Principal>();
  private readonly subject: string;
  private subscription?: Subscription;
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(ADMIN_API_ENV) private readonly env: AdminApiEnv,
    private readonly authenticator: Authenticator,
    private readonly tokenCache: TokenCache,
    names: Names,
  ) {
    this.subject = names.serviceSubject('admin-api', 'revoked');
  }

  onModuleInit(): void {
    this.subscription = this.nc.subscribe(this.subject, {
      callback: (error, msg) => {
        if (error) return this.logger.warn(`revocations: ${error.message}`);
        try {
          const revocation = msg.json<Revocation>();
          this.tokenCache.evict(revocation);
          this.closeMatching(revocation);
        } catch (caught) {
          this.logger.warn(`ignored a malformed revocation: ${String(caught)}`);
        }
      },
    });
    this.timer = setInterval(() => void this.recheck(), this.env.WS_AUTH_RECHECK_SECONDS * 1_000);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    if (!this.nc.isClosed()) this.subscription?.unsubscribe();
  }

  add(socket: WebSocket, principal: Principal): void {
    this.open.set(socket, principal);
  }

  remove(socket: WebSocket): void {
    this.open.delete(socket);
  }

  /**
   * Announces a revocation to every replica (this one included). This replica's token cache
   * forgets the credentials before this returns, so the caller's next request already fails.
   */
  revoke(revocation: Revocation): void {
    this.tokenCache.evict(revocation);
    try {
      this.nc.publish(this.subject, JSON.stringify(revocation));
    } catch (error) {
      // NATS is down: close our own sockets now; the re-check catches the other replicas'.
      this.logger.warn(`revocation not broadcast: ${String(error)}`);
      this.closeMatching(revocation);
    }
  }

  private closeMatching(revocation: Revocation): void {
    for (const [socket, principal] of this.open) {
      const byUser =
        revocation.userIds?.includes(principal.id) &&
        (revocation.via === undefined || revocation.via === principal.via);
      const byCredential = revocation.credentialHashes?.includes(principal.credentialHash);
      if (byUser || byCredential) this.close(socket);
    }
  }

  private async recheck(): Promise<void> {
    for (const [socket, principal] of [...this.open]) {
      try {
        const current = await this.authenticator.recheck({
          via: principal.via,
          hash: principal.credentialHash,
        });
        if (!current) this.close(socket);
      } catch (error) {
        this.logger.warn(`WebSocket re-check failed (kept open): ${String(error)}`);
      }
    }
  }

  private close(socket: WebSocket): void {
    this.open.delete(socket);
    socket.close(WS_CLOSE_REVOKED, 'Unauthorized: credentials revoked or expired');
  }
}
