import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Post,
  Query,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import { SkipThrottle, normalizeIp } from '@nestjs/throttler';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { CurrentUser, Public, RequireSignedIn } from '../auth/access.decorators.js';
import type { Principal } from '../auth/principal.js';
import { JsonBodyGuard, SignInThrottlerGuard, THROTTLES } from '../auth/sign-in-throttle.js';
import { bodySchemaPipe } from '../common/validation.js';
import { CLI_LOGIN_PAGE_HEADERS, approvalPage, resultPage } from './cli-login.page.js';
import {
  CliLoginGoneError,
  CliLoginService,
  GRANT_TTL_SECONDS,
  type PollAnswer,
  type StartedGrant,
  WrongUserCodeError,
} from './cli-login.service.js';

const startBody = z
  .object({
    email: z
      .string({ error: 'is required' })
      .trim()
      .max(254, { error: 'must be at most 254 characters' })
      .pipe(z.email({ error: 'must be an email address' })),
    ttlSeconds: z
      .number({ error: 'must be a number of seconds' })
      .int({ error: 'must be a whole number of seconds' })
      .min(GRANT_TTL_SECONDS.min, { error: `must be at least ${GRANT_TTL_SECONDS.min}` })
      .max(GRANT_TTL_SECONDS.max, { error: `must be at most ${GRANT_TTL_SECONDS.max}` })
      .optional(),
  })
  .strict();

const pollBody = z
  .object({ deviceCode: z.string({ error: 'is required' }).max(200, { error: 'is too long' }) })
  .strict();

const approveBody = z
  .object({ userCode: z.string({ error: 'is required' }).max(40, { error: 'is too long' }) })
  .strict();

const formBody = z.object({
  token: z.string().max(200).default(''),
  code: z.string().max(40).default(''),
  action: z.enum(['approve', 'deny']).default('approve'),
});

/** Limits of link requests (a grant sends one), which the routes that use a grant skip. */
const LINK_REQUEST_LIMITS = {
  [THROTTLES.signInPerEmail]: true,
  [THROTTLES.signInPerEmailAllClients]: true,
  [THROTTLES.signInPerIp]: true,
};
const EVERY_LIMIT = { ...LINK_REQUEST_LIMITS, [THROTTLES.verifyPerIp]: true };

const clientIp = (req: Request): string => normalizeIp(req.ip ?? '');

/**
 * `kre login --email` with browser approval (CliLoginService): the CLI's JSON routes (start,
 * poll), the portal's JSON approval, and the mailed link's page (`/cli-login`).
 */
@Controller()
export class CliLoginController {
  constructor(private readonly grants: CliLoginService) {}

  /** Starts a grant; mails the address a link to approve it. The link-request limits apply. */
  @Post('api/v1/cli-login')
  @Public()
  @HttpCode(201)
  @Header('Cache-Control', 'no-store')
  @UseGuards(JsonBodyGuard, SignInThrottlerGuard)
  @SkipThrottle({ [THROTTLES.verifyPerIp]: true })
  start(
    @Body({ schema: startBody, pipes: [bodySchemaPipe] }) body: z.infer<typeof startBody>,
    @Req() req: Request,
  ): Promise<StartedGrant> {
    return this.grants.start(body.email, clientIp(req), body.ttlSeconds);
  }

  /** The CLI's poll (every `interval` seconds; faster is 429 SLOW_DOWN). */
  @Post('api/v1/cli-login/poll')
  @Public()
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @UseGuards(JsonBodyGuard)
  @SkipThrottle(EVERY_LIMIT)
  poll(
    @Body({ schema: pollBody, pipes: [bodySchemaPipe] }) body: z.infer<typeof pollBody>,
  ): Promise<PollAnswer> {
    return this.grants.poll(body.deviceCode);
  }

  /**
   * A browser signed in as the grant's account approves its code (for the portal). No limit per
   * client: the caller is signed in, and a code approves only a grant for the caller's own account.
   */
  @Post('api/v1/cli-login/approve')
  @RequireSignedIn()
  @HttpCode(200)
  @UseGuards(JsonBodyGuard)
  approve(
    @Body({ schema: approveBody, pipes: [bodySchemaPipe] }) body: z.infer<typeof approveBody>,
    @CurrentUser() me: Principal,
  ): Promise<{ approved: true; email: string }> {
    return this.grants
      .approveWithSession(me, body.userCode)
      .then(({ email }) => ({ approved: true as const, email }));
  }

  /** The mailed link's page: whose account, from where, and a field for the CLI's code. */
  @Get('cli-login')
  @Public()
  async page(@Query('token') token: unknown, @Res() res: Response): Promise<void> {
    res.set(CLI_LOGIN_PAGE_HEADERS);
    const link = typeof token === 'string' ? token : '';
    try {
      res.status(200).send(approvalPage({ token: link, ...(await this.grants.describe(link)) }));
    } catch (error) {
      if (!(error instanceof CliLoginGoneError)) throw error;
      res.status(410).send(resultPage('gone'));
    }
  }

  /** The page's form: Approve with the code, or Deny. Shares the sign-in links' limit per client. */
  @Post('cli-login')
  @Public()
  @UseGuards(SignInThrottlerGuard)
  @SkipThrottle(LINK_REQUEST_LIMITS)
  async submit(@Body() raw: unknown, @Res() res: Response): Promise<void> {
    res.set(CLI_LOGIN_PAGE_HEADERS);
    const form = formBody.safeParse(raw ?? {});
    const { token, code, action } = form.success
      ? form.data
      : { token: '', code: '', action: 'approve' as const };
    try {
      if (action === 'deny') {
        await this.grants.denyWithLink(token);
        res.status(200).send(resultPage('denied'));
        return;
      }
      const { email } = await this.grants.approveWithLink(token, code);
      res.status(200).send(resultPage('approved', email));
    } catch (error) {
      if (error instanceof WrongUserCodeError) {
        if (error.attemptsLeft === 0) {
          res.status(403).send(resultPage('denied'));
          return;
        }
        const pending = await this.grants.describe(token).catch(() => null);
        if (pending) {
          res.status(400).send(approvalPage({ token, ...pending, error: error.message }));
          return;
        }
      } else if (!(error instanceof CliLoginGoneError)) {
        throw error;
      }
      res.status(410).send(resultPage('gone'));
    }
  }
}
