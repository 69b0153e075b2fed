import { timingSafeEqual } from 'node:crypto';
import {
  CLOCK,
  type Clock,
  DomainError,
  ForbiddenError,
  InvalidOrExpiredLinkError,
  UserActivityType,
} from '@libs/core';
import { normalizeEmail } from '@libs/persistence';
import {
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Redis } from 'ioredis';
import { ADMIN_API_ENV, type AdminApiEnv, type AuthConfig } from '../admin-api.env.js';
import { AUTH_CONFIG } from '../admin-api.tokens.js';
import { AuditService } from '../audit/audit.service.js';
import { MailService } from '../auth/mail.service.js';
import type { Principal } from '../auth/principal.js';
import { SessionsService } from '../auth/sessions.service.js';
import { SignInLinksService } from '../auth/sign-in-links.service.js';
import { SignInService } from '../auth/sign-in.service.js';
import { RANDOM_SECRET_PATTERN, randomSecret, sha256Hex } from '../common/secrets.js';
import { SessionSeal, newUserCode, normalizeUserCode } from './cli-login.codes.js';

export const CLI_LOGIN_REDIS = Symbol('CLI_LOGIN_REDIS');

/** How long a grant lives unless the CLI asks for less (it does: its --timeout). */
export const GRANT_TTL_SECONDS = { default: 600, min: 2, max: 900 } as const;
/** The CLI polls at most this often (seconds); faster polls get 429 SLOW_DOWN. */
export const POLL_INTERVAL_SECONDS = 2;
/** Wrong codes typed on a grant's page before the grant is denied. */
export const MAX_CODE_ATTEMPTS = 5;
/** An approved session waits at least this long (seconds) for its CLI to collect it. */
const COLLECT_SECONDS = 60;

/** A grant as Redis holds it (JSON); secrets only as hashes. */
interface Grant {
  email: string;
  userCode: string;
  /** The client that asked (shown on the approval page). */
  ip: string;
  createdAt: string;
  expiresAt: string;
}

export interface StartedGrant {
  /** The CLI's secret for polling; 256 random bits, stored only hashed. */
  deviceCode: string;
  /** What the person types on the approval page (the CLI shows it). */
  userCode: string;
  expiresAt: string;
  /** Seconds between polls. */
  interval: number;
}

export interface PendingGrant {
  email: string;
  ip: string;
  createdAt: string;
  expiresAt: string;
}

export type PollAnswer =
  | { status: 'pending'; expiresAt: string }
  | {
      status: 'approved';
      /** `<cookie name>=<session id>`: the Cookie header of the CLI's later calls. */
      cookie: string;
      expiresAt: string;
      user: { id: string; email: string };
    };

interface SealedSession {
  sessionId: string;
  expiresAt: string;
  user: { id: string; email: string };
}

/** A grant that expired, was used or denied, or never existed (one answer for all). */
export class CliLoginGoneError extends DomainError {
  readonly code = 'INVALID_OR_EXPIRED_LINK';
  constructor() {
    super('this sign-in request has expired or was already used: run kre login again');
  }
}

/** A wrong code typed on the approval page; the grant is denied after MAX_CODE_ATTEMPTS. */
export class WrongUserCodeError extends DomainError {
  readonly code = 'BAD_USER_INPUT';
  constructor(readonly attemptsLeft: number) {
    super(
      attemptsLeft > 0
        ? `that is not the code the kre command shows (${attemptsLeft} more ${attemptsLeft === 1 ? 'try' : 'tries'})`
        : 'that is not the code the kre command shows, and that was the last try: this sign-in request is denied',
      { field: 'code', attemptsLeft },
    );
  }
}

/**
 * `kre login --email` approved in a browser: a short-lived, single-use, device-style grant
 * (RFC 8628's shape). The CLI starts a grant and shows its user code; the address gets a sign-in
 * link whose page (`/cli-login`) shows whose account it is and asks for that code; or a browser
 * signed in as that account approves the code (`POST /api/v1/cli-login/approve`, for the portal).
 * The approval opens a session, sealed in Redis until the CLI's next poll collects it once.
 *
 * Redis keys (`<prefix>:cli-login:…`, each with the grant's TTL): `grant:<sha256(deviceCode)>`,
 * `code:<userCode>` and `link:<sha256(link token)>` lead to the grant; `done:<h>` claims it once
 * (approved, denied, collected); `session:<h>` the sealed session; `attempts:<h>`, `poll:<h>`.
 */
@Injectable()
export class CliLoginService implements OnApplicationShutdown {
  private readonly logger = new Logger(CliLoginService.name);
  private readonly pending = new Set<Promise<void>>();
  private readonly seal: SessionSeal;

  constructor(
    @Inject(CLI_LOGIN_REDIS) private readonly redis: Redis,
    private readonly links: SignInLinksService,
    private readonly signIn: SignInService,
    private readonly sessions: SessionsService,
    private readonly mail: MailService,
    private readonly audit: AuditService,
    @Inject(ADMIN_API_ENV) private readonly env: AdminApiEnv,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.seal = new SessionSeal(env.CONFIG_ENCRYPTION_KEY);
  }

  private key(kind: string, id: string): string {
    return `${this.env.KRE_PREFIX}:cli-login:${kind}:${id}`;
  }

  /**
   * A new grant, answered at once and alike for every address; the link is made and mailed
   * after answering, and only when the address may sign in (as `POST /auth/signin`).
   */
  async start(email: string, ip: string, ttlSeconds?: number): Promise<StartedGrant> {
    const ttl = Math.min(
      GRANT_TTL_SECONDS.max,
      Math.max(GRANT_TTL_SECONDS.min, Math.floor(ttlSeconds ?? GRANT_TTL_SECONDS.default)),
    );
    const deviceCode = randomSecret();
    const h = sha256Hex(deviceCode);
    const now = this.clock.now();
    const grant: Grant = {
      email: normalizeEmail(email),
      userCode: newUserCode(),
      ip,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + ttl * 1000).toISOString(),
    };
    await this.redis
      .multi()
      .set(this.key('grant', h), JSON.stringify(grant), 'EX', ttl)
      .set(this.key('code', grant.userCode), h, 'EX', ttl)
      .exec();
    const work = this.sendLink(h, grant, ttl)
      .catch((error: unknown) =>
        this.logger.error(
          `kre login link not sent: ${error instanceof Error ? error.message : String(error)}`,
        ),
      )
      .finally(() => this.pending.delete(work));
    this.pending.add(work);
    return {
      deviceCode,
      userCode: grant.userCode,
      expiresAt: grant.expiresAt,
      interval: POLL_INTERVAL_SECONDS,
    };
  }

  private async sendLink(h: string, grant: Grant, ttl: number): Promise<void> {
    const link = await this.links.issue(grant.email);
    if (!link) return;
    const token = link.url.slice(link.url.indexOf('#') + 1);
    await this.redis.set(this.key('link', sha256Hex(token)), h, 'EX', ttl);
    const url = `${this.config.frontendUrl}/cli-login?token=${token}`;
    await this.mail.sendCliLoginLink(grant.email, url, Math.max(1, Math.round(ttl / 60)), grant.ip);
    if (this.config.devLinksInLog)
      this.logger.log(`development: kre login approval link for ${grant.email}: ${url}`);
    await this.links.recordSent(link, 'kre login (browser approval)');
  }

  /** Resolves when every accepted grant's mail has been handled (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.idle();
    this.redis.disconnect();
  }

  private async grantOf(h: string | null): Promise<Grant> {
    const raw = h ? await this.redis.get(this.key('grant', h)) : null;
    if (!h || !raw || (await this.redis.exists(this.key('done', h)))) throw new CliLoginGoneError();
    return JSON.parse(raw) as Grant;
  }

  private async grantOfLink(linkToken: string): Promise<{ h: string; grant: Grant }> {
    if (!RANDOM_SECRET_PATTERN.test(linkToken)) throw new CliLoginGoneError();
    const h = await this.redis.get(this.key('link', sha256Hex(linkToken)));
    return { h: h ?? '', grant: await this.grantOf(h) };
  }

  /** What the approval page shows for a mailed link, consuming nothing. */
  async describe(linkToken: string): Promise<PendingGrant> {
    return pendingOf((await this.grantOfLink(linkToken)).grant);
  }

  /** Seconds the grant has left (at least 1). */
  private secondsLeft(grant: Grant): number {
    return Math.max(
      1,
      Math.ceil((Date.parse(grant.expiresAt) - this.clock.now().getTime()) / 1000),
    );
  }

  /** The page's Deny button: the grant ends, its CLI is told (403). */
  async denyWithLink(linkToken: string): Promise<PendingGrant> {
    const { h, grant } = await this.grantOfLink(linkToken);
    await this.redis.set(
      this.key('done', h),
      'denied',
      'EX',
      this.secondsLeft(grant) + COLLECT_SECONDS,
    );
    await this.redis.del(this.key('link', sha256Hex(linkToken)));
    return pendingOf(grant);
  }

  /**
   * The page's Approve button with the typed code: the link is consumed (as a sign-in would) and
   * a session opened for the CLI. A wrong code counts; the last wrong one denies the grant.
   * @throws CliLoginGoneError | WrongUserCodeError
   */
  async approveWithLink(linkToken: string, typedCode: string): Promise<{ email: string }> {
    const { h, grant } = await this.grantOfLink(linkToken);
    if (!sameCode(normalizeUserCode(typedCode), grant.userCode)) {
      const attempts = await this.redis
        .multi()
        .incr(this.key('attempts', h))
        .expire(this.key('attempts', h), this.secondsLeft(grant))
        .exec();
      const used = Number(attempts?.[0]?.[1] ?? MAX_CODE_ATTEMPTS);
      if (used >= MAX_CODE_ATTEMPTS) {
        await this.redis.set(
          this.key('done', h),
          'denied',
          'EX',
          this.secondsLeft(grant) + COLLECT_SECONDS,
        );
        await this.redis.del(this.key('link', sha256Hex(linkToken)));
      }
      throw new WrongUserCodeError(Math.max(0, MAX_CODE_ATTEMPTS - used));
    }
    await this.claim(h, grant);
    let signedIn;
    try {
      // Consumes the link once, makes the user if its domain may join, audits the LOGIN.
      signedIn = await this.signIn.verify(linkToken, undefined);
    } catch (error) {
      // The claim goes back (a superseded link can still be approved from a signed-in browser).
      await this.redis.del(this.key('done', h));
      if (error instanceof InvalidOrExpiredLinkError) throw new CliLoginGoneError();
      throw error;
    }
    await this.redis.del(this.key('link', sha256Hex(linkToken)));
    await this.store(h, grant, {
      sessionId: signedIn.sessionId,
      expiresAt: signedIn.expiresAt.toISOString(),
      user: { id: signedIn.user._id, email: signedIn.user.email },
    });
    return { email: signedIn.user.email };
  }

  /**
   * A browser signed in as the grant's account approves its code (the portal's way; JSON).
   * @throws CliLoginGoneError (no such pending code) | ForbiddenError (another account; a token)
   */
  async approveWithSession(me: Principal, typedCode: string): Promise<{ email: string }> {
    if (me.via !== 'session') {
      throw new ForbiddenError(
        'approve a kre login from a signed-in browser, not with an API token',
      );
    }
    const code = normalizeUserCode(typedCode);
    const h = code ? await this.redis.get(this.key('code', code)) : null;
    const grant = await this.grantOf(h);
    if (normalizeEmail(me.email) !== grant.email) {
      throw new ForbiddenError(
        `this code asks to sign in as another account than yours (${me.email}): only that account can approve it`,
        { reason: 'WRONG_APPROVER' },
      );
    }
    await this.claim(h!, grant);
    const session = await this.sessions.create(me.id);
    await this.audit.record({
      type: UserActivityType.LOGIN,
      user: { id: me.id, email: me.email },
      vars: { VIA: 'kre login, approved by a signed-in browser' },
    });
    await this.store(h!, grant, {
      sessionId: session.sessionId,
      expiresAt: session.expiresAt.toISOString(),
      user: { id: me.id, email: me.email },
    });
    return { email: me.email };
  }

  /** Marks the grant approved, once: a second approval finds it gone. */
  private async claim(h: string, grant: Grant): Promise<void> {
    const claimed = await this.redis.set(
      this.key('done', h),
      'approved',
      'EX',
      this.secondsLeft(grant) + COLLECT_SECONDS,
      'NX',
    );
    if (claimed !== 'OK') throw new CliLoginGoneError();
  }

  private async store(h: string, grant: Grant, session: SealedSession): Promise<void> {
    await this.redis.set(
      this.key('session', h),
      this.seal.seal(JSON.stringify(session), h),
      'EX',
      this.secondsLeft(grant) + COLLECT_SECONDS,
    );
  }

  /**
   * The CLI's poll: pending, or the approved session (once; the grant is then used up).
   * @throws CliLoginGoneError | ForbiddenError (denied) | 429 SLOW_DOWN (polled too fast)
   */
  async poll(deviceCode: string): Promise<PollAnswer> {
    if (!RANDOM_SECRET_PATTERN.test(deviceCode)) throw new CliLoginGoneError();
    const h = sha256Hex(deviceCode);
    const sealed = await this.redis.getdel(this.key('session', h));
    if (sealed) {
      await this.redis.set(this.key('done', h), 'collected', 'KEEPTTL');
      await this.redis.del(this.key('grant', h), this.key('attempts', h), this.key('poll', h));
      const session = JSON.parse(this.seal.open(sealed, h)) as SealedSession;
      return {
        status: 'approved',
        cookie: `${this.config.cookieName}=${session.sessionId}`,
        expiresAt: session.expiresAt,
        user: session.user,
      };
    }
    const done = await this.redis.get(this.key('done', h));
    if (done === 'denied') {
      await this.redis.set(this.key('done', h), 'collected', 'KEEPTTL');
      throw new ForbiddenError(
        'this sign-in was denied in the browser (or too many wrong codes were typed)',
        {
          reason: 'DENIED',
        },
      );
    }
    const raw = await this.redis.get(this.key('grant', h));
    // Approved but not stored yet: a moment's gap between the claim and the session.
    if (!raw || (done && done !== 'approved')) throw new CliLoginGoneError();
    const grant = JSON.parse(raw) as Grant;
    const fresh = await this.redis.set(
      this.key('poll', h),
      '1',
      'PX',
      POLL_INTERVAL_SECONDS * 1000 - 250,
      'NX',
    );
    if (fresh !== 'OK') {
      throw new HttpException(
        { code: 'SLOW_DOWN', message: `poll at most every ${POLL_INTERVAL_SECONDS} s` },
        HttpStatus.TOO_MANY_REQUESTS,
      );
    }
    return { status: 'pending', expiresAt: grant.expiresAt };
  }
}

function pendingOf(grant: Grant): PendingGrant {
  return {
    email: grant.email,
    ip: grant.ip,
    createdAt: grant.createdAt,
    expiresAt: grant.expiresAt,
  };
}

function sameCode(typed: string, expected: string): boolean {
  const a = Buffer.from(typed);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
