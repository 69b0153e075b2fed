import 'reflect-metadata';
import { fileURLToPath } from 'node:url';
import { Transport } from '@nestjs/microservices';
import { loadEnvOrExit } from '@libs/config';
import { startHttpApp } from '@libs/observability';
import { DeployerModule } from './deployer.module.js';
import { deployerEnvSchema } from './deployer.env.js';

const env = loadEnvOrExit('deployer', deployerEnvSchema);
// Built layout: dist/apps/deployer/src/main.js, beside dist/apps/{entrypoint,runner}.
const programsDir =
  env.KRE_WORKLOAD_PROGRAMS_DIR ?? fileURLToPath(new URL('../../', import.meta.url));
await startHttpApp(
  'deployer',
  DeployerModule.forRoot(env, programsDir),
  env,
  { host: env.DEPLOYER_HOST, port: env.DEPLOYER_HEALTH_PORT },
  async (app) => {
    app.connectMicroservice({
      transport: Transport.NATS,
      options: {
        servers: env.NATS_URL,
        name: `${env.KRE_PREFIX}-deployer-rpc`,
        maxReconnectAttempts: -1,
      },
    });
    await app.startAllMicroservices();
  },
);
