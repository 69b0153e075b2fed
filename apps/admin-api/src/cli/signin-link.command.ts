import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { z } from 'zod';
import type { AdminApiEnv } from '../admin-api.env.js';
import { SignInNotAllowedError } from '../auth/auth.errors.js';
import { SignInLinksService } from '../auth/sign-in-links.service.js';
import { AdminApiCliModule } from './cli.module.js';

export const SIGNIN_LINK_USAGE = `usage: node dist/apps/admin-api/src/main.js signin-link <email>
Prints a sign-in link for <email> (an active user, or an address of an allowed domain) on
stdout: no mail is sent and no rate limit applies. Run it where admin-api runs, with its
environment. The link works once, expires as mailed links do, and replaces any earlier link.
`;

/** Where a command writes: the link (stdout) apart from everything said about it (stderr). */
export interface CommandOutput {
  out: { write(text: string): unknown };
  err: { write(text: string): unknown };
}

/** Nest's log lines go to stderr, so stdout carries only the command's result. */
class StderrLogger extends ConsoleLogger {
  protected override printMessages(
    messages: unknown[],
    context?: string,
    logLevel?: LogLevel,
    _stream?: 'stdout' | 'stderr',
    errorStack?: unknown,
    params?: Record<string, unknown>,
  ): void {
    super.printMessages(messages, context, logLevel, 'stderr', errorStack, params);
  }
}

/**
 * `signin-link <email>`: the operator's way in when mail or the sign-in limits keep a person
 * out. The link is made by the same code as a mailed link (`SignInLinksService`) and audited as
 * `SIGN_IN_LINK_SENT` with `VIA: signin-link command`. Returns the exit code.
 */
export async function signInLinkCommand(
  env: AdminApiEnv,
  args: readonly string[],
  output: CommandOutput = { out: process.stdout, err: process.stderr },
): Promise<number> {
  const [email, ...rest] = args;
  if (email === undefined || rest.length > 0 || !z.email().safeParse(email.trim()).success) {
    output.err.write(SIGNIN_LINK_USAGE);
    return 64; // EX_USAGE
  }
  const app = await NestFactory.createApplicationContext(AdminApiCliModule.forRoot(env), {
    logger: new StderrLogger('admin-api signin-link', {
      json: env.LOG_FORMAT === 'json',
      logLevels: ['fatal', 'error', 'warn'],
    }),
  });
  try {
    const link = await app.get(SignInLinksService).issueForOperator(email.trim());
    output.err.write(
      `Sign-in link for ${email.trim()}: it works once, until ${link.expiresAt.toISOString()}, ` +
        'and replaces any link sent before. Hand it to that person only.\n',
    );
    output.out.write(`${link.url}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof SignInNotAllowedError)) throw error;
    output.err.write(`signin-link: ${error.message}\n`);
    return 1;
  } finally {
    await app.close();
  }
}
