import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { Strategy as CustomStrategy } from 'passport-custom';
import { Strategy as BearerStrategy } from 'passport-http-bearer';
import { AUTH_CONFIG } from '../admin-api.tokens.js';
import type { AuthConfig } from '../admin-api.env.js';
import { Authenticator } from './authenticator.service.js';
import type { Principal } from './principal.js';

/** `Authorization: Bearer <API token>` (programs, the CLI). */
@Injectable()
export class ApiTokenStrategy extends PassportStrategy(BearerStrategy, 'bearer') {
  constructor(private readonly authenticator: Authenticator) {
    super();
  }

  async validate(token: string): Promise<Principal | false> {
    return (await this.authenticator.token(token)) ?? false;
  }
}

/** The HttpOnly session cookie (browsers). */
@Injectable()
export class SessionCookieStrategy extends PassportStrategy(CustomStrategy, 'session-cookie') {
  constructor(
    private readonly authenticator: Authenticator,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
  ) {
    super();
  }

  async validate(req: Request): Promise<Principal | false> {
    // A request that sends a token is judged by the token alone: a bad token never falls
    // back to a cookie the browser happens to carry.
    if (req.headers.authorization !== undefined) return false;
    const sessionId = (req.cookies as Record<string, string> | undefined)?.[this.config.cookieName];
    if (!sessionId) return false;
    return (await this.authenticator.session(sessionId)) ?? false;
  }
}
