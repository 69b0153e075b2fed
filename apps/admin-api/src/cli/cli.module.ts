import { type DynamicModule, Global, Module } from '@nestjs/common';
import { NatsModule } from '@libs/messaging';
import { Names } from '@libs/naming';
import { PersistenceModule, IdentityModule } from '@libs/persistence';
import type { AdminApiEnv } from '../admin-api.env.js';
import { coreProviders } from '../common/core.providers.js';
import { AuditModule } from '../audit/audit.module.js';
import { SignInLinksService } from '../auth/sign-in-links.service.js';
import { SettingsModule } from '../settings/settings.module.js';
import { AdminBootstrap } from '../users/admin-bootstrap.service.js';

/** The env, names, auth config and clock, as the app provides them. */
@Global()
@Module({})
class CliCoreModule {
  static forRoot(env: AdminApiEnv): DynamicModule {
    const providers = coreProviders(env);
    return { module: CliCoreModule, providers, exports: providers.map((p) => p.provide) };
  }
}

/**
 * What admin-api's host commands need: the platform database and the audit log (NATS carries
 * live audit entries). No HTTP server, no Redis, no mail: a command works while sign-in is
 * rate-limited or the mail server is down. `ADMIN_EMAIL` is made a platform admin first, as at
 * the app's start-up, so the first admin can get in even before the app ever ran.
 */
@Module({})
export class AdminApiCliModule {
  static forRoot(env: AdminApiEnv): DynamicModule {
    const names = new Names(env.KRE_PREFIX);
    return {
      module: AdminApiCliModule,
      imports: [
        CliCoreModule.forRoot(env),
        PersistenceModule.forRoot({ url: env.MONGO_URL, dbName: names.platformDb() }),
        NatsModule.forRoot({
          url: env.NATS_URL,
          credentials: env.NATS_CREDS,
          name: `${env.KRE_PREFIX}-admin-api-cli`,
        }),
        IdentityModule,
        AuditModule,
        SettingsModule,
      ],
      providers: [SignInLinksService, AdminBootstrap],
    };
  }
}
