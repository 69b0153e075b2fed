import { Module } from '@nestjs/common';
import { Redis } from 'ioredis';
import { ADMIN_API_ENV, type AdminApiEnv } from '../admin-api.env.js';
import { AuditModule } from '../audit/audit.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { JsonBodyGuard, SignInThrottlerGuard } from '../auth/sign-in-throttle.js';
import { CliLoginController } from './cli-login.controller.js';
import { CLI_LOGIN_REDIS, CliLoginService } from './cli-login.service.js';

/** `kre login --email` approved in a browser: grants in Redis, the approval page, the CLI's poll. */
@Module({
  imports: [AuthModule, AuditModule],
  controllers: [CliLoginController],
  providers: [
    CliLoginService,
    JsonBodyGuard,
    SignInThrottlerGuard,
    {
      provide: CLI_LOGIN_REDIS,
      inject: [ADMIN_API_ENV],
      // A bounded retry: with Redis down, a CLI sign-in fails (closed) instead of hanging.
      useFactory: (env: AdminApiEnv) => new Redis(env.REDIS_URL, { maxRetriesPerRequest: 2 }),
    },
  ],
})
export class CliLoginModule {}
