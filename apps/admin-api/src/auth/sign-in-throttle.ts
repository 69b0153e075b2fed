import { createHash } from 'node:crypto';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import {
  type ExecutionContext,
  Injectable,
  UnsupportedMediaTypeException,
  type CanActivate,
} from '@nestjs/common';
import {
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
  normalizeIp,
} from '@nestjs/throttler';
import type { Request, Response } from 'express';
import { normalizeEmail } from '@libs/persistence';
import type { AdminApiEnv } from '../admin-api.env.js';

/** Named limits (see THROTTLE_* in .env.example). */
export const THROTTLES = {
  /** Link requests for one address from one client. */
  signInPerEmail: 'signin-email-client',
  /** Link requests for one address from every client together: the mail it can be sent. */
  signInPerEmailAllClients: 'signin-email-all',
  signInPerIp: 'signin-ip',
  verifyPerIp: 'verify-ip',
} as const;

/**
 * The client as this app sees it: `req.ip` (X-Forwarded-For only through TRUST_PROXY_HOPS
 * trusted proxies), an IPv6 address as its /64, as the per-IP limits count it.
 */
const clientOf = (req: Record<string, unknown>): string =>
  normalizeIp(typeof req.ip === 'string' ? req.ip : '');

const emailOf = (req: Record<string, unknown>): string => {
  const email = (req.body as { email?: unknown } | undefined)?.email;
  return typeof email === 'string' ? normalizeEmail(email) : '';
};

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The Redis storage of the limits, shared by every replica; disconnected with the app. */
export class ThrottleStorage extends ThrottlerStorageRedisService {
  static connect(redisUrl: string): ThrottleStorage {
    // A bounded retry: with Redis down, sign-in fails (closed) instead of hanging.
    return new ThrottleStorage(redisUrl, { maxRetriesPerRequest: 2 });
  }
}

/**
 * Throttler options. Link requests: per client, per address and client together, and per
 * address from all clients (a generous cap), so one client asking for someone's links exhausts
 * only its own allowance for that address and cannot lock the person out, while the mail one
 * address receives stays bounded. Addresses are hashed; known or not, the same limits and the
 * same 429. Verification: per client. Keys carry the installation prefix.
 *
 * The guard counts the limits in this order (shortest window first, then as listed) and stops
 * at the first one exceeded: a request refused per client or per address and client does not
 * use up the address's cap.
 */
export function throttlerOptions(
  env: AdminApiEnv,
  storage: ThrottleStorage,
): ThrottlerModuleOptions {
  const limit = (l: { limit: number; ttlMs: number }) => ({ limit: l.limit, ttl: l.ttlMs });
  return {
    storage,
    setHeaders: false,
    generateKey: (_context, tracker, name) =>
      `${env.KRE_PREFIX}:throttle:${name}:${sha256(tracker)}`,
    throttlers: [
      { name: THROTTLES.signInPerIp, ...limit(env.THROTTLE_SIGNIN_PER_IP), getTracker: clientOf },
      {
        name: THROTTLES.signInPerEmail,
        ...limit(env.THROTTLE_SIGNIN_PER_EMAIL),
        getTracker: (req: Record<string, unknown>) =>
          `email:${emailOf(req)}\nclient:${clientOf(req)}`,
      },
      {
        name: THROTTLES.signInPerEmailAllClients,
        ...limit(env.THROTTLE_SIGNIN_PER_EMAIL_ALL_CLIENTS),
        getTracker: (req: Record<string, unknown>) => `email:${emailOf(req)}`,
      },
      { name: THROTTLES.verifyPerIp, ...limit(env.THROTTLE_VERIFY_PER_IP), getTracker: clientOf },
    ],
  };
}

/** The throttler guard of the sign-in routes: a 429 carries `Retry-After` (seconds). */
@Injectable()
export class SignInThrottlerGuard extends ThrottlerGuard {
  protected override async throwThrottlingException(
    context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    context
      .switchToHttp()
      .getResponse<Response>()
      .setHeader('Retry-After', String(Math.max(1, detail.timeToBlockExpire)));
    return super.throwThrottlingException(context, detail);
  }
}

/**
 * Sign-in bodies must be JSON: an HTML form on another site cannot send that without a CORS
 * preflight, so it can neither trigger mails nor sign a browser in to someone else's account.
 */
@Injectable()
export class JsonBodyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    if (!req.is('application/json')) {
      throw new UnsupportedMediaTypeException({
        code: 'UNSUPPORTED_MEDIA_TYPE',
        message: 'send the body as JSON (Content-Type: application/json)',
      });
    }
    return true;
  }
}
