import { type DynamicModule, Global, Module } from '@nestjs/common';
import { getQueueToken } from '@nestjs/bullmq';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { getConnectionToken } from '@nestjs/mongoose';
import { GraphQLModule } from '@nestjs/graphql';
import type { ApolloDriverConfig } from '@nestjs/apollo';
import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import cookieParser from 'cookie-parser';
import { JobsModule, VERSIONS_QUEUE, redisCheck } from '@libs/jobs';
import {
  DeployerClient,
  DeployerRpcModule,
  NATS_CONNECTION,
  NatsModule,
  natsCheck,
} from '@libs/messaging';
import { Names } from '@libs/naming';
import { HealthModule } from '@libs/observability';
import { CatalogModule, PersistenceModule, mongoCheck } from '@libs/persistence';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Queue } from 'bullmq';
import type { Connection } from 'mongoose';
import { type AdminApiEnv, authConfig } from './admin-api.env.js';
import { AuditModule } from './audit/audit.module.js';
import { AuthModule } from './auth/auth.module.js';
import { ThrottleStorage } from './auth/sign-in-throttle.js';
import { CliLoginModule } from './cli-login/cli-login.module.js';
import { coreProviders } from './common/core.providers.js';
import { ErrorFilter } from './common/error.filter.js';
import { InputValidationPipe } from './common/validation.js';
import { GraphqlWsServer } from './graphql/graphql-ws.server.js';
import { graphqlOptions } from './graphql/graphql.options.js';
import { ObservabilityModule } from './observability/observability.module.js';
import { PortalModule } from './portal/portal.module.js';
import { RuntimesModule } from './runtimes/runtimes.module.js';
import { SettingsModule } from './settings/settings.module.js';
import { UsersModule } from './users/users.module.js';
import { VersionsModule } from './versions/versions.module.js';

/** What every admin-api module may inject: the env, names, auth config, clock, throttle storage. */
@Global()
@Module({})
class AdminApiCoreModule {
  static forRoot(env: AdminApiEnv): DynamicModule {
    const providers = [
      ...coreProviders(env),
      { provide: ThrottleStorage, useFactory: () => ThrottleStorage.connect(env.REDIS_URL) },
    ];
    return {
      module: AdminApiCoreModule,
      providers,
      exports: providers.map((p) => p.provide),
    };
  }
}

@Module({})
export class AdminApiModule {
  static forRoot(env: AdminApiEnv): DynamicModule {
    const names = new Names(env.KRE_PREFIX);
    return {
      module: AdminApiModule,
      imports: [
        AdminApiCoreModule.forRoot(env),
        PersistenceModule.forRoot({ url: env.MONGO_URL, dbName: names.platformDb() }),
        JobsModule.forRoot({
          redisUrl: env.REDIS_URL,
          prefix: names.queuePrefix(),
          role: 'producer',
        }),
        NatsModule.forRoot({
          url: env.NATS_URL,
          credentials: env.NATS_CREDS,
          name: `${env.KRE_PREFIX}-admin-api`,
        }),
        DeployerRpcModule.forRoot({ prefix: env.KRE_PREFIX }),
        GraphQLModule.forRoot<ApolloDriverConfig>(graphqlOptions(env)),
        AuditModule,
        SettingsModule,
        AuthModule,
        CliLoginModule,
        UsersModule,
        CatalogModule.forRoot({ configEncryptionKey: env.CONFIG_ENCRYPTION_KEY }),
        RuntimesModule,
        VersionsModule,
        ObservabilityModule,
        PortalModule,
        HealthModule.forRoot(
          {
            inject: [
              getConnectionToken(),
              getQueueToken(VERSIONS_QUEUE),
              NATS_CONNECTION,
              DeployerClient,
            ],
            useFactory: (
              mongo: Connection,
              queue: Queue,
              nats: NatsConnection,
              deployer: DeployerClient,
            ) => [
              mongoCheck(mongo),
              redisCheck(queue),
              natsCheck(nats),
              // Jobs wait in Redis while no deployer runs: the API still serves.
              { key: 'deployer', optional: true, check: () => deployer.status() },
            ],
          },
          // Off the API's port when set: that port is public (the Ingress), the series are not.
          env.ADMIN_API_METRICS_PORT === undefined
            ? undefined
            : { host: env.ADMIN_API_HOST, port: env.ADMIN_API_METRICS_PORT },
        ),
      ],
      providers: [
        GraphqlWsServer,
        { provide: APP_FILTER, useClass: ErrorFilter },
        { provide: APP_PIPE, useClass: InputValidationPipe },
      ],
    };
  }
}

/**
 * HTTP settings of the app that live outside the module (main.ts and the tests apply them):
 * cookies, the proxies to trust for the client IP, and CORS with credentials for the portal.
 */
/**
 * The largest JSON body (GraphQL requests, sign-in): a config value may hold 1 MiB of text,
 * which JSON escaping can grow up to six times. Documents themselves are bounded by tokens and
 * selections (graphql/limits.ts), whatever the body size.
 */
export const JSON_BODY_LIMIT = '8mb';

export function configureAdminApi(app: INestApplication, env: AdminApiEnv): void {
  const express = app as NestExpressApplication;
  express.set('trust proxy', env.TRUST_PROXY_HOPS);
  // Explicit, so Nest's default (100 KB, which refused 1 MiB config values) is not in force.
  express.useBodyParser('json', { limit: JSON_BODY_LIMIT });
  express.use(cookieParser());
  express.enableCors({ origin: [...authConfig(env).frontendOrigins], credentials: true });
}
