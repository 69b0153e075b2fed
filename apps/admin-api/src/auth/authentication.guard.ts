import { ForbiddenError, PlatformRole, UnauthenticatedError } from '@libs/core';
import { type CanActivate, type ExecutionContext, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GqlExecutionContext, type GqlContextType } from '@nestjs/graphql';
import type { Request, Response } from 'express';
import passport from 'passport';
import { ACCESS_KEY, type Access } from './access.decorators.js';
import { Authenticator } from './authenticator.service.js';
import type { AuthenticatedRequest, GqlContext, Principal } from './principal.js';
import { ApiTokenStrategy, SessionCookieStrategy } from './strategies.js';

/**
 * Global guard: reads the handler's access declaration, authenticates the caller (passport:
 * bearer API token, then the session cookie; over graphql-ws, the credential accepted in
 * `connection_init`, checked again) and enforces `@RequireSignedIn` / `@RequirePlatformAdmin`.
 * `@RequireRuntimeRole` is then decided by the RuntimeRoleGuard.
 */
@Injectable()
export class AuthenticationGuard implements CanActivate {
  private readonly logger = new Logger(AuthenticationGuard.name);
  /** Our own passport instance: two apps in one process (tests) never share strategies. */
  private readonly passport = new passport.Passport();

  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: Authenticator,
    bearer: ApiTokenStrategy,
    cookie: SessionCookieStrategy,
  ) {
    this.passport.use('bearer', bearer);
    this.passport.use('session-cookie', cookie);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const access = this.reflector.getAllAndOverride<Access | undefined>(ACCESS_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    const isGraphql = context.getType<GqlContextType>() === 'graphql';
    if (!access) {
      // Routes of library modules (/health, /livez, /readyz, /metrics) are public. Every
      // resolver declares its access (a test walks them); one that does not is refused.
      if (!isGraphql) return true;
      this.logger.error(
        `${context.getClass().name}.${context.getHandler().name} declares no access`,
      );
      throw new ForbiddenError('this operation declares no access rule');
    }
    if (access.kind === 'public') return true;
    const principal = await this.principal(context, isGraphql);
    if (!principal) throw new UnauthenticatedError();
    if (access.kind === 'platformAdmin' && principal.platformRole !== PlatformRole.ADMIN) {
      throw new ForbiddenError('only platform admins may do this');
    }
    return true;
  }

  /** Authenticates once per request (several root fields share the result). */
  private async principal(
    context: ExecutionContext,
    isGraphql: boolean,
  ): Promise<Principal | null> {
    if (isGraphql) {
      const ctx = GqlExecutionContext.create(context).getContext<GqlContext>();
      if (ctx.principal !== undefined) return ctx.principal;
      if (ctx.ws) {
        const { via, credentialHash } = ctx.ws.principal;
        ctx.principal = await this.authenticator.recheck({ via, hash: credentialHash });
      } else {
        ctx.principal = await this.fromRequest(ctx.req!, ctx.res!);
      }
      return ctx.principal;
    }
    const http = context.switchToHttp();
    return this.fromRequest(http.getRequest(), http.getResponse());
  }

  private async fromRequest(req: AuthenticatedRequest, res: Response): Promise<Principal | null> {
    if (req.principal !== undefined) return req.principal;
    req.principal = await new Promise<Principal | null>((resolve, reject) => {
      const settle = (error: unknown, user?: Principal | false) =>
        error ? reject(asError(error)) : resolve(user || null);
      const authenticate = this.passport.authenticate(
        ['bearer', 'session-cookie'],
        { session: false },
        settle,
      ) as (req: Request, res: Response, next: (error?: unknown) => void) => void;
      authenticate(req, res, settle);
    });
    return req.principal;
  }
}

const asError = (error: unknown): Error =>
  error instanceof Error ? error : new Error(`authentication failed: ${JSON.stringify(error)}`);
