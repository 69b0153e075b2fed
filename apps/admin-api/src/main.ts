import 'reflect-metadata';
import { loadEnvOrExit } from '@libs/config';
import { startHttpApp } from '@libs/observability';
import { AdminApiModule, configureAdminApi } from './admin-api.module.js';
import { adminApiEnvSchema } from './admin-api.env.js';

const env = loadEnvOrExit('admin-api', adminApiEnvSchema);
await startHttpApp(
  'admin-api',
  AdminApiModule.forRoot(env),
  env,
  { host: env.ADMIN_API_HOST, port: env.ADMIN_API_PORT },
  (app) => configureAdminApi(app, env),
);
