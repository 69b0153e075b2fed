import { CLOCK, type Clock, UserActivityType } from '@libs/core';
import { Inject, Injectable } from '@nestjs/common';
import { UsersRepository, SessionsRepository } from '@libs/persistence';
import { AuditService } from '../audit/audit.service.js';
import { RANDOM_SECRET_PATTERN, randomSecret, sha256Hex } from '../common/secrets.js';
import { SettingsService } from '../settings/settings.service.js';
import { LiveConnections } from './live-connections.service.js';

export interface NewSession {
  /** Goes into the cookie; only its hash is stored. */
  sessionId: string;
  expiresAt: Date;
}

@Injectable()
export class SessionsService {
  constructor(
    private readonly sessions: SessionsRepository,
    private readonly users: UsersRepository,
    private readonly settings: SettingsService,
    private readonly audit: AuditService,
    private readonly connections: LiveConnections,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** A new session with a fresh id, expiring as the settings say now. */
  async create(userId: string): Promise<NewSession> {
    const settings = await this.settings.get();
    const now = this.clock.now();
    const sessionId = randomSecret();
    const expiresAt = new Date(now.getTime() + settings.sessionLifetimeInDays * 86_400_000);
    await this.sessions.insert({
      _id: sha256Hex(sessionId),
      userId,
      createdAt: now,
      lastSeenAt: now,
      expiresAt,
      idleMinutes: settings.sessionIdleMinutes,
    });
    return { sessionId, expiresAt };
  }

  /**
   * Ends the session of this cookie, if it is one (unknown or expired ids are fine: signing
   * out is idempotent). Its sockets close at once.
   */
  async end(sessionId: string | undefined, audited: boolean): Promise<void> {
    if (!sessionId || !RANDOM_SECRET_PATTERN.test(sessionId)) return;
    const hash = sha256Hex(sessionId);
    const session = await this.sessions.findByHash(hash);
    if (!session) return;
    await this.sessions.delete(hash);
    this.connections.revoke({ credentialHashes: [hash] });
    const user = audited ? await this.users.findById(session.userId) : null;
    if (user) {
      await this.audit.record({
        type: UserActivityType.LOGOUT,
        user: { id: user._id, email: user.email },
      });
    }
  }

  /** Every session of these users dies now (the next request with their cookies gets 401). */
  async revokeAllOf(userIds: readonly string[]): Promise<void> {
    await this.sessions.deleteAllOfUsers(userIds);
    this.connections.revoke({ userIds: [...userIds], via: 'session' });
  }

  countLive(userId: string): Promise<number> {
    return this.sessions.countLive(userId, this.clock.now());
  }
}
