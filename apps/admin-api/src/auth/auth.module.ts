import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { IdentityModule } from '@libs/persistence';
import { ADMIN_API_ENV, type AdminApiEnv } from '../admin-api.env.js';
import { AuditModule } from '../audit/audit.module.js';
import { SettingsModule } from '../settings/settings.module.js';
import { ApiTokensResolver } from './api-tokens.resolver.js';
import { ApiTokensService } from './api-tokens.service.js';
import { AuthController } from './auth.controller.js';
import { AuthenticationGuard } from './authentication.guard.js';
import { Authenticator } from './authenticator.service.js';
import { LiveConnections } from './live-connections.service.js';
import { MailService } from './mail.service.js';
import { RuntimeRoleGuard } from './runtime-role.guard.js';
import { SessionsService } from './sessions.service.js';
import { SignInPageController } from './sign-in-page.controller.js';
import { SignInLinksService } from './sign-in-links.service.js';
import { SignInService } from './sign-in.service.js';
import {
  JsonBodyGuard,
  SignInThrottlerGuard,
  ThrottleStorage,
  throttlerOptions,
} from './sign-in-throttle.js';
import { ApiTokenStrategy, SessionCookieStrategy } from './strategies.js';
import { TokenCache } from './token-cache.js';

@Module({
  imports: [
    IdentityModule,
    AuditModule,
    SettingsModule,
    ThrottlerModule.forRootAsync({
      inject: [ADMIN_API_ENV, ThrottleStorage],
      useFactory: (env: AdminApiEnv, storage: ThrottleStorage) => throttlerOptions(env, storage),
    }),
  ],
  controllers: [AuthController, SignInPageController],
  providers: [
    Authenticator,
    ApiTokenStrategy,
    SessionCookieStrategy,
    SessionsService,
    ApiTokensService,
    ApiTokensResolver,
    SignInService,
    SignInLinksService,
    MailService,
    LiveConnections,
    TokenCache,
    JsonBodyGuard,
    SignInThrottlerGuard,
    // Order matters: who is calling, then what they may do on the runtime.
    { provide: APP_GUARD, useClass: AuthenticationGuard },
    { provide: APP_GUARD, useClass: RuntimeRoleGuard },
  ],
  exports: [
    Authenticator,
    SessionsService,
    ApiTokensService,
    LiveConnections,
    // For cli-login/ (kre login approved in a browser): links, their mail and their verification.
    SignInService,
    SignInLinksService,
    MailService,
  ],
})
export class AuthModule {}
