import {
  Body,
  Controller,
  Header,
  HttpCode,
  Inject,
  Post,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import { SkipThrottle } from '@nestjs/throttler';
import type { CookieOptions, Request, Response } from 'express';
import { z } from 'zod';
import type { AuthConfig } from '../admin-api.env.js';
import { AUTH_CONFIG } from '../admin-api.tokens.js';
import { bodySchemaPipe } from '../common/validation.js';
import { Public } from './access.decorators.js';
import { SessionsService } from './sessions.service.js';
import { JsonBodyGuard, SignInThrottlerGuard, THROTTLES } from './sign-in-throttle.js';
import { SignInService } from './sign-in.service.js';

const signInBody = z
  .object({
    email: z
      .string({ error: 'is required' })
      .trim()
      .max(254, { error: 'must be at most 254 characters' })
      .pipe(z.email({ error: 'must be an email address' })),
  })
  .strict();

const verifyBody = z
  .object({ token: z.string({ error: 'is required' }).max(200, { error: 'is too long' }) })
  .strict();

/** Limits of link requests, which the routes taking a link's token skip. */
const LINK_REQUEST_LIMITS = {
  [THROTTLES.signInPerEmail]: true,
  [THROTTLES.signInPerEmailAllClients]: true,
  [THROTTLES.signInPerIp]: true,
};

/** The one answer to every link request, whoever the address belongs to. */
export const SIGN_IN_ACCEPTED = {
  message: 'If this address may sign in to KRE, a sign-in link is on its way to it.',
};

/** Sign-in by emailed link, and sign-out (REST: the browser must receive a cookie). */
@Controller('api/v1/auth')
export class AuthController {
  constructor(
    private readonly signIn: SignInService,
    private readonly sessions: SessionsService,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
  ) {}

  @Post('signin')
  @Public()
  @HttpCode(202)
  @UseGuards(JsonBodyGuard, SignInThrottlerGuard)
  @SkipThrottle({ [THROTTLES.verifyPerIp]: true })
  requestLink(
    @Body({ schema: signInBody, pipes: [bodySchemaPipe] }) body: z.infer<typeof signInBody>,
  ): typeof SIGN_IN_ACCEPTED {
    this.signIn.request(body.email);
    return SIGN_IN_ACCEPTED;
  }

  /**
   * Whose account a link signs in to, consuming nothing (the sign-in page's confirmation step).
   * It shares verify's limit per client (one budget for both) and answers an unusable link
   * exactly as verify does.
   */
  @Post('signin/inspect')
  @Public()
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @UseGuards(JsonBodyGuard, SignInThrottlerGuard)
  @SkipThrottle(LINK_REQUEST_LIMITS)
  inspect(
    @Body({ schema: verifyBody, pipes: [bodySchemaPipe] }) body: z.infer<typeof verifyBody>,
  ): Promise<{ email: string }> {
    return this.signIn.inspect(body.token);
  }

  @Post('signin/verify')
  @Public()
  @HttpCode(200)
  @UseGuards(JsonBodyGuard, SignInThrottlerGuard)
  @SkipThrottle(LINK_REQUEST_LIMITS)
  async verify(
    @Body({ schema: verifyBody, pipes: [bodySchemaPipe] }) body: z.infer<typeof verifyBody>,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ message: string; user: { id: string; email: string } }> {
    const signedIn = await this.signIn.verify(body.token, this.cookieOf(req));
    res.cookie(this.config.cookieName, signedIn.sessionId, {
      ...this.cookieOptions(),
      expires: signedIn.expiresAt,
    });
    return { message: 'signed in', user: { id: signedIn.user._id, email: signedIn.user.email } };
  }

  @Post('logout')
  @Public()
  @HttpCode(200)
  async logout(
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ message: string }> {
    await this.sessions.end(this.cookieOf(req), true);
    res.clearCookie(this.config.cookieName, this.cookieOptions());
    return { message: 'signed out' };
  }

  private cookieOf(req: Request): string | undefined {
    return (req.cookies as Record<string, string> | undefined)?.[this.config.cookieName];
  }

  /** HttpOnly, SameSite=Lax, Path=/, no Domain (so a `__Host-` name is valid), Secure but in development. */
  private cookieOptions(): CookieOptions {
    return { httpOnly: true, sameSite: 'lax', secure: this.config.cookieSecure, path: '/' };
  }
}
