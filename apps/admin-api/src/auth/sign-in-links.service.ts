import { CLOCK, type Clock, UserActivityType } from '@libs/core';
import { Inject, Injectable } from '@nestjs/common';
import {
  normalizeEmail,
  type UserDoc,
  UsersRepository,
  SignInLinksRepository,
} from '@libs/persistence';
import type { AuthConfig } from '../admin-api.env.js';
import { AUTH_CONFIG } from '../admin-api.tokens.js';
import { AuditService } from '../audit/audit.service.js';
import { randomSecret, sha256Hex } from '../common/secrets.js';
import { SettingsService } from '../settings/settings.service.js';
import { SignInNotAllowedError } from './auth.errors.js';

export interface IssuedLink {
  /** `<FRONTEND_URL>/signin#<token>`: the token is in the fragment. */
  url: string;
  expiresAt: Date;
  ttlMinutes: number;
  /** The address's active user; null when the link will create it (an allowed domain). */
  user: UserDoc | null;
}

/**
 * The one place sign-in links are made: for the mailed link (`SignInService`) and for the link an
 * operator mints on the server (the `signin-link` command). A new link is the address's newest
 * and the only one that works.
 */
@Injectable()
export class SignInLinksService {
  constructor(
    private readonly links: SignInLinksRepository,
    private readonly users: UsersRepository,
    private readonly settings: SettingsService,
    private readonly audit: AuditService,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * A link for the address if it may sign in (an active user, or an address whose domain is in
   * `authAllowedDomains`; removed users stay removed), else null.
   */
  async issue(email: string): Promise<IssuedLink | null> {
    const address = normalizeEmail(email);
    const [user, settings] = await Promise.all([
      this.users.findByEmail(address),
      this.settings.get(),
    ]);
    const known = user !== null && !user.deletedAt;
    if (!known && (user || !SettingsService.domainAllowed(address, settings))) return null;
    const token = randomSecret();
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + settings.signInLinkTtlMinutes * 60_000);
    await this.links.insertNewest(
      { _id: sha256Hex(token), email: address, createdAt: now, expiresAt },
      sha256Hex(address),
    );
    return {
      // The token travels in the fragment: browsers never send it to a server, and a mail
      // scanner fetching the URL consumes nothing (only POST /signin/verify does).
      url: `${this.config.frontendUrl}/signin#${token}`,
      expiresAt,
      ttlMinutes: settings.signInLinkTtlMinutes,
      user: known ? user : null,
    };
  }

  /** Audits a link handed out to a known user (`via` says how, when not by mail). */
  async recordSent(link: IssuedLink, via?: string): Promise<void> {
    if (!link.user) return;
    await this.audit.record({
      type: UserActivityType.SIGN_IN_LINK_SENT,
      user: { id: link.user._id, email: link.user.email },
      ...(via ? { vars: { VIA: via } } : {}),
    });
  }

  /**
   * A link minted on the server by an operator: no mail, no rate limit (the limits are on the
   * HTTP route). It supersedes any link mailed before.
   * @throws SignInNotAllowedError when the address may not sign in.
   */
  async issueForOperator(email: string): Promise<IssuedLink> {
    const link = await this.issue(email);
    if (!link) throw new SignInNotAllowedError(normalizeEmail(email));
    await this.recordSent(link, 'signin-link command');
    return link;
  }
}
