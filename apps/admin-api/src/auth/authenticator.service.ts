import { CLOCK, type Clock } from '@libs/core';
import { Inject, Injectable } from '@nestjs/common';
import {
  type UserDoc,
  UsersRepository,
  ApiTokensRepository,
  SessionsRepository,
} from '@libs/persistence';
import { RANDOM_SECRET_PATTERN, isWellFormedApiToken, sha256Hex } from '../common/secrets.js';
import type { Principal } from './principal.js';
import { TokenCache } from './token-cache.js';

/** `lastSeenAt`, `lastUsedAt` and `lastActivity` are written at most this often. */
const TOUCH_INTERVAL_MS = 60_000;

export interface Credential {
  via: Principal['via'];
  hash: string;
}

/**
 * Turns a session id or API token into a principal, or null. Sessions are read on every
 * request; verified API tokens are kept a few seconds (TokenCache: revocations evict them at
 * once, expiry is checked on every use). Lookups are by `_id` (the credential's hash).
 */
@Injectable()
export class Authenticator {
  constructor(
    private readonly users: UsersRepository,
    private readonly sessions: SessionsRepository,
    private readonly tokens: ApiTokensRepository,
    private readonly cache: TokenCache,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** The session id from the cookie. */
  session(sessionId: string): Promise<Principal | null> {
    if (!RANDOM_SECRET_PATTERN.test(sessionId)) return Promise.resolve(null);
    return this.sessionByHash(sha256Hex(sessionId));
  }

  /** A bearer API token; a malformed one or a bad checksum is refused before any lookup. */
  token(token: string): Promise<Principal | null> {
    if (!isWellFormedApiToken(token)) return Promise.resolve(null);
    return this.tokenByHash(sha256Hex(token));
  }

  /** Re-checks a credential already accepted once (open WebSockets). */
  recheck(credential: Credential): Promise<Principal | null> {
    return credential.via === 'session'
      ? this.sessionByHash(credential.hash, false)
      : this.tokenByHash(credential.hash, false);
  }

  private async sessionByHash(hash: string, touch = true): Promise<Principal | null> {
    const session = await this.sessions.findByHash(hash);
    if (!session) return null;
    const now = this.clock.now();
    const idleUntil = session.lastSeenAt.getTime() + session.idleMinutes * 60_000;
    if (now >= session.expiresAt || now.getTime() >= idleUntil) {
      await this.sessions.delete(hash);
      return null;
    }
    const user = await this.users.findActive(session.userId);
    if (!user) return null;
    if (touch && now.getTime() - session.lastSeenAt.getTime() >= TOUCH_INTERVAL_MS) {
      await Promise.all([this.sessions.touch(hash, now), this.users.touch(user._id, now)]);
    }
    return { ...toPrincipal(user, 'session', hash), signedInAt: session.createdAt };
  }

  private async tokenByHash(hash: string, touch = true): Promise<Principal | null> {
    const now = this.clock.now();
    // Re-checks of open WebSockets (touch = false) always read the database.
    let token = touch ? this.cache.get(hash) : undefined;
    if (!token) {
      const mark = this.cache.mark();
      const doc = await this.tokens.findByHash(hash);
      if (!doc) return null;
      const user = await this.users.findActive(doc.userId);
      if (!user) return null;
      token = {
        principal: toPrincipal(user, 'token', hash),
        expiresAt: doc.expiresAt,
        lastUsedAt: doc.lastUsedAt,
      };
      this.cache.set(hash, token, mark);
    }
    if (now >= token.expiresAt) return null;
    if (
      touch &&
      (!token.lastUsedAt || now.getTime() - token.lastUsedAt.getTime() >= TOUCH_INTERVAL_MS)
    ) {
      token.lastUsedAt = now;
      await Promise.all([this.tokens.touch(hash, now), this.users.touch(token.principal.id, now)]);
    }
    return token.principal;
  }
}

function toPrincipal(user: UserDoc, via: Principal['via'], credentialHash: string): Principal {
  return { id: user._id, email: user.email, platformRole: user.platformRole, via, credentialHash };
}
