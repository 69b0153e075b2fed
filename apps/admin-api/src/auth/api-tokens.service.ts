import { randomUUID } from 'node:crypto';
import {
  CLOCK,
  BadUserInputError,
  type Clock,
  NotFoundError,
  PlatformRole,
  UserActivityType,
} from '@libs/core';
import { Inject, Injectable } from '@nestjs/common';
import { type ApiTokenDoc, ApiTokensRepository } from '@libs/persistence';
import { ADMIN_API_ENV, type AdminApiEnv } from '../admin-api.env.js';
import { AuditService } from '../audit/audit.service.js';
import { newApiToken, sha256Hex } from '../common/secrets.js';
import { RecentSignInRequiredError, SessionRequiredError } from './auth.errors.js';
import { LiveConnections } from './live-connections.service.js';
import type { Principal } from './principal.js';

export interface GeneratedToken {
  /** The secret: returned once, never stored. */
  token: string;
  apiToken: ApiTokenDoc;
}

@Injectable()
export class ApiTokensService {
  constructor(
    private readonly tokens: ApiTokensRepository,
    private readonly audit: AuditService,
    private readonly connections: LiveConnections,
    @Inject(ADMIN_API_ENV) private readonly env: AdminApiEnv,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * A new token of the caller's. Only a session signed in within
   * TOKEN_MINT_MAX_SESSION_AGE_MINUTES may mint one: an API token cannot (it would renew itself
   * forever), nor can a session left open on some machine for hours.
   * @throws SessionRequiredError for an API token; RecentSignInRequiredError for an old session;
   * BadUserInputError past the maximum lifetime; ConflictError for a name in use.
   */
  async generate(by: Principal, name: string, expiresInDays: number): Promise<GeneratedToken> {
    this.assertMayMint(by);
    if (expiresInDays > this.env.API_TOKEN_MAX_DAYS) {
      throw new BadUserInputError([
        {
          field: 'input.expiresInDays',
          message: `must be at most ${this.env.API_TOKEN_MAX_DAYS} (API_TOKEN_MAX_DAYS)`,
        },
      ]);
    }
    const now = this.clock.now();
    const token = newApiToken();
    const apiToken: ApiTokenDoc = {
      _id: sha256Hex(token),
      id: randomUUID(),
      userId: by.id,
      name,
      creationDate: now,
      expiresAt: new Date(now.getTime() + expiresInDays * 86_400_000),
    };
    await this.tokens.insert(apiToken);
    await this.audit.record({
      type: UserActivityType.GENERATE_API_TOKEN,
      user: by,
      vars: { API_TOKEN_ID: apiToken.id, API_TOKEN_NAME: name },
    });
    return { token, apiToken };
  }

  private assertMayMint(by: Principal): void {
    const action = 'generating an API token';
    if (by.via !== 'session') throw new SessionRequiredError(action);
    const maxMinutes = this.env.TOKEN_MINT_MAX_SESSION_AGE_MINUTES;
    // No sign-in time (never expected for a session) fails closed.
    const age = by.signedInAt ? this.clock.now().getTime() - by.signedInAt.getTime() : Infinity;
    if (age > maxMinutes * 60_000) {
      throw new RecentSignInRequiredError(action, maxMinutes, 'TOKEN_MINT_MAX_SESSION_AGE_MINUTES');
    }
  }

  listOf(userId: string): Promise<ApiTokenDoc[]> {
    return this.tokens.listByUser(userId);
  }

  /**
   * Deletes one of the caller's tokens (platform admins: anyone's). Another user's token gets
   * the same NOT_FOUND as one that does not exist.
   */
  async delete(by: Principal, id: string): Promise<ApiTokenDoc> {
    const token = await this.tokens.findById(id);
    if (!token || (token.userId !== by.id && by.platformRole !== PlatformRole.ADMIN)) {
      throw new NotFoundError('apiToken', id);
    }
    if (!(await this.tokens.delete(token._id))) throw new NotFoundError('apiToken', id);
    this.connections.revoke({ credentialHashes: [token._id] });
    await this.audit.record({
      type: UserActivityType.DELETE_API_TOKEN,
      user: by,
      vars: { API_TOKEN_ID: token.id, API_TOKEN_NAME: token.name, OWNER_ID: token.userId },
    });
    return token;
  }

  async revokeAllOf(userIds: readonly string[]): Promise<void> {
    const hashes = await this.tokens.deleteAllOfUsers(userIds);
    if (hashes.length) this.connections.revoke({ credentialHashes: hashes });
  }
}
