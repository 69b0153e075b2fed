import {
  CLOCK,
  type Clock,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  PlatformRole,
  UserActivityType,
} from '@libs/core';
import { Inject, Injectable } from '@nestjs/common';
import { MembershipsRepository, type UserDoc, UsersRepository } from '@libs/persistence';
import { AuditService } from '../audit/audit.service.js';
import { ApiTokensService } from '../auth/api-tokens.service.js';
import { LiveConnections } from '../auth/live-connections.service.js';
import type { Principal } from '../auth/principal.js';
import { SessionsService } from '../auth/sessions.service.js';

@Injectable()
export class UsersService {
  constructor(
    private readonly users: UsersRepository,
    private readonly memberships: MembershipsRepository,
    private readonly sessions: SessionsService,
    private readonly tokens: ApiTokensService,
    private readonly audit: AuditService,
    private readonly connections: LiveConnections,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async get(id: string): Promise<UserDoc> {
    const user = await this.users.findActive(id);
    if (!user) throw new NotFoundError('user', id);
    return user;
  }

  list(): Promise<UserDoc[]> {
    return this.users.listActive();
  }

  /** Creates a user (a removed user with that address is restored). */
  async create(by: Principal, email: string, platformRole: PlatformRole): Promise<UserDoc> {
    const existing = await this.users.findByEmail(email);
    let user: UserDoc;
    if (existing && !existing.deletedAt) {
      throw new ConflictError(`a user with email "${existing.email}" exists`, {
        email: existing.email,
      });
    } else if (existing) {
      await this.users.restore(existing._id, platformRole);
      user = { ...existing, platformRole, deletedAt: undefined };
    } else {
      user = await this.users.create(email, platformRole, this.clock.now());
    }
    await this.audit.record({
      type: UserActivityType.CREATE_USER,
      user: by,
      vars: {
        CREATED_USER_ID: user._id,
        CREATED_USER_EMAIL: user.email,
        CREATED_USER_PLATFORM_ROLE: platformRole,
      },
    });
    return user;
  }

  /** Soft-deletes users: they cannot sign in, and their sessions, tokens and memberships die. */
  async remove(by: Principal, userIds: string[], comment: string): Promise<UserDoc[]> {
    if (userIds.includes(by.id)) throw new ForbiddenError('you cannot remove yourself');
    const users = await this.existing(userIds);
    await this.users.softDelete(userIds, this.clock.now());
    await Promise.all([
      this.sessions.revokeAllOf(userIds),
      this.tokens.revokeAllOf(userIds),
      this.memberships.removeAllOfUsers(userIds),
    ]);
    this.connections.revoke({ userIds });
    await this.audit.record({
      type: UserActivityType.REMOVE_USERS,
      user: by,
      vars: this.usersVars(users, comment),
    });
    return users;
  }

  /** Their open WebSockets close, so live subscriptions are authorised again with the new role. */
  async updatePlatformRole(
    by: Principal,
    userIds: string[],
    platformRole: PlatformRole,
    comment: string,
  ): Promise<UserDoc[]> {
    if (platformRole !== PlatformRole.ADMIN && userIds.includes(by.id)) {
      throw new ForbiddenError('you cannot demote yourself');
    }
    const users = await this.existing(userIds);
    await this.users.setPlatformRole(userIds, platformRole);
    this.connections.revoke({ userIds });
    await this.audit.record({
      type: UserActivityType.UPDATE_PLATFORM_ROLES,
      user: by,
      vars: { ...this.usersVars(users, comment), PLATFORM_ROLE: platformRole },
    });
    return users.map((u) => ({ ...u, platformRole }));
  }

  /**
   * Ends every session of these users, and with `includeApiTokens` deletes their API tokens too
   * (e.g. a lost laptop that held both). Either way the credentials are refused on the very next
   * request: the token cache is evicted here before this returns, on other replicas by the
   * revocation broadcast.
   */
  async revokeSessions(
    by: Principal,
    userIds: string[],
    comment: string,
    includeApiTokens = false,
  ): Promise<UserDoc[]> {
    const users = await this.existing(userIds);
    await Promise.all([
      this.sessions.revokeAllOf(userIds),
      includeApiTokens ? this.tokens.revokeAllOf(userIds) : undefined,
    ]);
    await this.audit.record({
      type: UserActivityType.REVOKE_SESSIONS,
      user: by,
      vars: { ...this.usersVars(users, comment), INCLUDE_API_TOKENS: String(includeApiTokens) },
    });
    return users;
  }

  /** @throws NotFoundError naming the first id that is not an active user. */
  private async existing(userIds: readonly string[]): Promise<UserDoc[]> {
    const unique = [...new Set(userIds)];
    const users = await this.users.findActiveByIds(unique);
    const missing = unique.find((id) => !users.some((u) => u._id === id));
    if (missing !== undefined) throw new NotFoundError('user', missing);
    return unique.map((id) => users.find((u) => u._id === id)!);
  }

  private usersVars(users: readonly UserDoc[], comment: string): Record<string, string> {
    return {
      USER_IDS: users.map((u) => u._id).join(','),
      USER_EMAILS: users.map((u) => u.email).join(','),
      COMMENT: comment,
    };
  }
}
