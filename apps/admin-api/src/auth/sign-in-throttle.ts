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
} from '@nestjs/throttler';
import type { Request, Response } from 'express';
import type { AdminApiEnv } from '../admin-api.env.js';
import { normalizeEmail } from '../users/users.repository.js';

/** Named limits (see THROTTLE_* in .env.example). */
export const THROTTLES = {
  signInPerEmail: 'signin-email',
  signInPerIp: 'signin-ip',
  verifyPerIp: 'verify-ip',
} as const;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The Redis storage of the limits, shared by every replica; disconnected with the app. */
export class ThrottleStorage extends ThrottlerStorageRedisService {
  static connect(redisUrl: string): ThrottleStorage {
    // A bounded retry: with Redis down, sign-in fails (closed) instead of hanging.
    return new ThrottleStorage(redisUrl, { maxRetriesPerRequest: 2 });
  }
}

/**
 * Throttler options: per IP on both sign-in endpoints, per address (hashed, known or not: the
 * same limit and the same 429) on the link request. Keys carry the installation prefix.
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
      {
        name: THROTTLES.signInPerEmail,
        ...limit(env.THROTTLE_SIGNIN_PER_EMAIL),
        getTracker: (req: Record<string, unknown>) => {
          const email = (req.body as { email?: unknown } | undefined)?.email;
          return `email:${typeof email === 'string' ? normalizeEmail(email) : ''}`;
        },
      },
      { name: THROTTLES.signInPerIp, ...limit(env.THROTTLE_SIGNIN_PER_IP) },
      { name: THROTTLES.verifyPerIp, ...limit(env.THROTTLE_VERIFY_PER_IP) },
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
