import 'reflect-metadata';
import { fileURLToPath } from 'node:url';
import type { CustomStrategy } from '@nestjs/microservices';
import { loadEnvOrExit } from '@libs/config';
import { NATS_CONNECTION, NatsRpcServer } from '@libs/messaging';
import { initTracing, startHttpApp } from '@libs/observability';
import type { NatsConnection } from '@nats-io/transport-node';
import { DeployerModule } from './deployer.module.js';
import { deployerEnvSchema } from './deployer.env.js';

const env = loadEnvOrExit('deployer', deployerEnvSchema);
await initTracing('deployer', env);
// Built layout: dist/apps/deployer/src/main.js, beside dist/apps/{entrypoint,runner}.
const programsDir =
  env.KRE_WORKLOAD_PROGRAMS_DIR ?? fileURLToPath(new URL('../../', import.meta.url));
await startHttpApp(
  'deployer',
  DeployerModule.forRoot(env, programsDir),
  env,
  { host: env.DEPLOYER_HOST, port: env.DEPLOYER_HEALTH_PORT },
  async (app) => {
    // The request/reply patterns (`<p>.svc.deployer.*`) on the app's one NATS connection.
    app.connectMicroservice<CustomStrategy>({
      strategy: new NatsRpcServer(app.get<NatsConnection>(NATS_CONNECTION)),
    });
    await app.startAllMicroservices();
  },
);
