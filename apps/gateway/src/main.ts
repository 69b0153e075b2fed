import 'reflect-metadata';
import { loadEnvOrExit } from '@libs/config';
import { initTracing, startHttpApp } from '@libs/observability';
import { GatewayModule } from './gateway.module.js';
import { gatewayEnvSchema } from './gateway.env.js';

const env = loadEnvOrExit('gateway', gatewayEnvSchema);
await initTracing('gateway', env);
await startHttpApp('gateway', GatewayModule.forRoot(env), env, {
  host: env.GATEWAY_HOST,
  port: env.GATEWAY_HEALTH_PORT,
});
