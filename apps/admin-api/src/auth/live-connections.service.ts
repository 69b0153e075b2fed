import {
  DomainError,
  ForbiddenError,
  type RuntimeRole,
  effectiveRuntimeRole,
  roleIncludes,
} from '@libs/core';
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
import { MembershipsRepository } from '@libs/persistence';
import { ADMIN_API_ENV, type AdminApiEnv } from '../admin-api.env.js';
import { Authenticator } from './authenticator.service.js';
import type { Principal } from './principal.js';
import type { Revocation } from './revocation.js';
import { TokenCache } from './token-cache.js';

/** A live subscription on one runtime that needs at least `role` there. */
export interface RuntimeWatch {
  socket: WebSocket;
  principal: Principal;
  runtimeId: string;
  role: RuntimeRole;
  /** Ends this subscription with the error; its socket and other subscriptions stay open. */
  end: (error: DomainError) => void;
}

/** Why a subscription on a deleted runtime ended (NOT_FOUND, as the runtime is now). */
export class RuntimeDeletedError extends DomainError {
  readonly code = 'NOT_FOUND';
  constructor(runtimeId: string) {
    super(`runtime "${runtimeId}" was deleted`, { runtimeId });
  }
}

/** graphql-ws close code for a connection whose credentials were revoked or expired. */
export const WS_CLOSE_REVOKED = 4401;

/**
 * The open GraphQL WebSockets of this replica and the credential each authenticated with, and
 * their subscriptions on one runtime and the role each needs there. Revocations travel over
 * NATS to every replica, which closes the matching sockets at once (their subscriptions end
 * with them). Runtime access changes (member removed or re-roled, runtime deleted) travel the
 * same way and end only the affected subscriptions, with an error that says why. A periodic
 * re-check also closes sockets whose session or token expired or vanished, and ends
 * subscriptions whose role went, without a message (e.g. while NATS was unreachable).
 */
@Injectable()
export class LiveConnections implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(LiveConnections.name);
  private readonly open = new Map<WebSocket, Principal>();
  private readonly watches = new Set<RuntimeWatch>();
  private readonly subject: string;
  private subscription?: Subscription;
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(ADMIN_API_ENV) private readonly env: AdminApiEnv,
    private readonly authenticator: Authenticator,
    private readonly tokenCache: TokenCache,
    private readonly memberships: MembershipsRepository,
    names: Names,
  ) {
    this.subject = names.serviceSubject('admin-api', 'revoked');
  }

  onModuleInit(): void {
    this.subscription = this.nc.subscribe(this.subject, {
      callback: (error, msg) => {
        if (error) return this.logger.warn(`revocations: ${error.message}`);
        let revocation: Revocation;
        try {
          revocation = msg.json<Revocation>();
        } catch (caught) {
          return this.logger.warn(`ignored a malformed revocation: ${String(caught)}`);
        }
        this.apply(revocation);
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
    for (const watch of this.watches) if (watch.socket === socket) this.watches.delete(watch);
  }

  /**
   * Tracks a subscription on one runtime until the returned function is called (when it ends).
   * Its role is checked once more now: a change made after the guard's check and before this
   * call was broadcast while nobody here knew the subscription.
   */
  track(watch: RuntimeWatch): () => void {
    this.watches.add(watch);
    void this.check([watch]);
    return () => void this.watches.delete(watch);
  }

  /**
   * Announces a revocation to every replica (this one included). This replica's token cache
   * forgets the credentials before this returns, so the caller's next request already fails.
   */
  revoke(revocation: Revocation): void {
    this.tokenCache.evict(revocation);
    this.broadcast(revocation);
  }

  /**
   * Announces to every replica that these members of the runtime were removed or given another
   * role: each of their subscriptions there is checked against the role they have now, and
   * ends (FORBIDDEN, "access … was lost") if it needs more.
   */
  runtimeMembersChanged(runtimeId: string, userIds: string[]): void {
    this.broadcast({ runtime: { runtimeId, userIds } });
  }

  /** Announces to every replica that the runtime is being deleted: all its subscriptions end. */
  runtimeDeleted(runtimeId: string): void {
    this.broadcast({ runtime: { runtimeId, deleted: true } });
  }

  private broadcast(message: Revocation): void {
    try {
      this.nc.publish(this.subject, JSON.stringify(message));
    } catch (error) {
      // NATS is down: act on our own sockets now; the re-check catches the other replicas'.
      this.logger.warn(`revocation not broadcast: ${String(error)}`);
      this.apply(message);
    }
  }

  private apply(message: Revocation): void {
    if (message.userIds || message.credentialHashes) {
      this.tokenCache.evict(message);
      this.closeMatching(message);
    }
    const change = message.runtime;
    if (!change) return;
    const affected = [...this.watches].filter(
      (watch) =>
        watch.runtimeId === change.runtimeId &&
        (change.deleted || change.userIds?.includes(watch.principal.id)),
    );
    if (!change.deleted) return void this.check(affected);
    for (const watch of affected) this.end(watch, new RuntimeDeletedError(change.runtimeId));
  }

  /**
   * Reads the current role behind each subscription (one read per user and runtime), then ends
   * every one whose role is gone or too small. All verdicts are in before the first ends.
   */
  private async check(watches: RuntimeWatch[]): Promise<void> {
    const roles = new Map<string, Promise<RuntimeRole | null>>();
    const roleOf = ({ runtimeId, principal }: RuntimeWatch) => {
      const key = `${runtimeId}:${principal.id}`;
      if (!roles.has(key)) roles.set(key, this.memberships.roleOf(runtimeId, principal.id));
      return roles.get(key)!;
    };
    const verdicts = await Promise.allSettled(
      watches.map(async (watch) => {
        // Platform admins are ADMIN everywhere: no read (only deletion ends theirs).
        const role = await effectiveRuntimeRole(watch.principal.platformRole, () => roleOf(watch));
        return lostAccess(watch, role);
      }),
    );
    verdicts.forEach((verdict, i) => {
      if (verdict.status === 'rejected') {
        this.logger.warn(`subscription re-check failed (kept): ${String(verdict.reason)}`);
      } else if (verdict.value) {
        this.end(watches[i], verdict.value);
      }
    });
  }

  private end(watch: RuntimeWatch, error: DomainError): void {
    if (this.watches.delete(watch)) watch.end(error);
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
    await this.check([...this.watches]);
  }

  private close(socket: WebSocket): void {
    this.remove(socket);
    socket.close(WS_CLOSE_REVOKED, 'Unauthorized: credentials revoked or expired');
  }
}

/** Why the subscription may no longer run with this role on its runtime, or null. */
function lostAccess(watch: RuntimeWatch, role: RuntimeRole | null): ForbiddenError | null {
  const lost = `access to runtime "${watch.runtimeId}" was lost`;
  const details = { runtimeId: watch.runtimeId };
  if (role === null)
    return new ForbiddenError(`${lost}: you are no longer a member of it`, details);
  if (roleIncludes(role, watch.role)) return null;
  return new ForbiddenError(
    `${lost}: this subscription needs the ${watch.role} role, you now have ${role}`,
    details,
  );
}
