import {
  CLOCK,
  type Clock,
  ConflictError,
  InvalidOrExpiredLinkError,
  PlatformRole,
  UserActivityType,
} from '@libs/core';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import {
  normalizeEmail,
  type UserDoc,
  UsersRepository,
  type SignInLinkDoc,
  SignInLinksRepository,
} from '@libs/persistence';
import type { AuthConfig } from '../admin-api.env.js';
import { AUTH_CONFIG } from '../admin-api.tokens.js';
import { AuditService } from '../audit/audit.service.js';
import { RANDOM_SECRET_PATTERN, sha256Hex } from '../common/secrets.js';
import { SettingsService } from '../settings/settings.service.js';
import { MailService } from './mail.service.js';
import { type NewSession, SessionsService } from './sessions.service.js';
import { SignInLinksService } from './sign-in-links.service.js';

export interface SignedIn extends NewSession {
  user: UserDoc;
}

/**
 * Magic-link sign-in. `request` answers the same way for every address and does the work
 * (lookup, link, mail) after answering, so neither the answer nor its timing says whether an
 * address is known. `verify` consumes a link once, atomically, and opens a fresh session.
 */
@Injectable()
export class SignInService implements OnApplicationShutdown {
  private readonly logger = new Logger(SignInService.name);
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly links: SignInLinksService,
    private readonly linkStore: SignInLinksRepository,
    private readonly users: UsersRepository,
    private readonly settings: SettingsService,
    private readonly sessions: SessionsService,
    private readonly mail: MailService,
    private readonly audit: AuditService,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Accepts a request for a link; returns before anything about the address is looked up. */
  request(email: string): void {
    const work = this.send(normalizeEmail(email))
      .catch((error: unknown) =>
        this.logger.error(
          `sign-in link not sent: ${error instanceof Error ? error.message : String(error)}`,
        ),
      )
      .finally(() => this.pending.delete(work));
    this.pending.add(work);
  }

  /** Resolves when every accepted request has been handled (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.idle();
  }

  private async send(email: string): Promise<void> {
    const link = await this.links.issue(email);
    if (!link) return;
    await this.mail.sendSignInLink(email, link.url, link.ttlMinutes);
    if (this.config.devLinksInLog)
      this.logger.log(`development: sign-in link for ${email}: ${link.url}`);
    await this.links.recordSent(link);
  }

  /**
   * The address a link would sign in as, consuming nothing: the sign-in page shows it and asks
   * the person to confirm before it verifies (login CSRF: a link someone else requested signs
   * this browser into their account only if the person agrees to that account).
   * @throws InvalidOrExpiredLinkError exactly when `verify` would (nothing else is revealed).
   */
  async inspect(token: string): Promise<{ email: string }> {
    if (!RANDOM_SECRET_PATTERN.test(token)) throw new InvalidOrExpiredLinkError();
    const hash = sha256Hex(token);
    const link = await this.usable(hash, await this.linkStore.find(hash));
    const user = await this.users.findByEmail(link.email);
    const mayJoin = SettingsService.domainAllowed(link.email, await this.settings.get());
    if (user ? user.deletedAt : !mayJoin) throw new InvalidOrExpiredLinkError();
    return { email: link.email };
  }

  /**
   * Consumes a link and opens a session (the browser's previous session, if any, is ended:
   * a new id on every sign-in).
   * @throws InvalidOrExpiredLinkError for an unknown, used, superseded or expired link alike.
   */
  async verify(token: string, previousSessionId: string | undefined): Promise<SignedIn> {
    if (!RANDOM_SECRET_PATTERN.test(token)) throw new InvalidOrExpiredLinkError();
    const hash = sha256Hex(token);
    const link = await this.usable(hash, await this.linkStore.consume(hash));
    const user = await this.userFor(link.email);
    await this.sessions.end(previousSessionId, false);
    const session = await this.sessions.create(user._id);
    await this.audit.record({
      type: UserActivityType.LOGIN,
      user: { id: user._id, email: user.email },
    });
    return { ...session, user };
  }

  /** The link if it exists, has not expired and is its address's newest. */
  private async usable(hash: string, link: SignInLinkDoc | null): Promise<SignInLinkDoc> {
    if (!link || this.clock.now() >= link.expiresAt) throw new InvalidOrExpiredLinkError();
    if (!(await this.linkStore.isNewest(sha256Hex(link.email), hash)))
      throw new InvalidOrExpiredLinkError();
    return link;
  }

  /** The link's user; created now if the address's domain is allowed (it proved the address). */
  private async userFor(email: string): Promise<UserDoc> {
    const existing = await this.users.findByEmail(email);
    if (existing) {
      if (existing.deletedAt) throw new InvalidOrExpiredLinkError();
      return existing;
    }
    if (!SettingsService.domainAllowed(email, await this.settings.get())) {
      throw new InvalidOrExpiredLinkError(); // the domain was removed after the link was sent
    }
    try {
      const user = await this.users.create(email, PlatformRole.USER, this.clock.now());
      await this.audit.record({
        type: UserActivityType.SIGN_UP,
        user: { id: user._id, email: user.email },
      });
      return user;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      return (await this.users.findByEmail(email))!; // created concurrently
    }
  }
}
