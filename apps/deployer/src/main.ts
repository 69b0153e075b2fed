import 'reflect-metadata';
import { Transport } from '@nestjs/microservices';
import { loadEnvOrExit } from '@libs/config';
import { startHttpApp } from '@libs/observability';
import { DeployerModule } from './deployer.module.js';
import { deployerEnvSchema } from './deployer.env.js';

const env = loadEnvOrExit('deployer', deployerEnvSchema);
await startHttpApp(
  'deployer',
  DeployerModule.forRoot(env),
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
