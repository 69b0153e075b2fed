import { join } from 'node:path';
import {
  engineCredentials,
  freePort,
  runApp,
  waitForHttp,
  type AppProcess,
  type testEnv,
} from '@libs/testing';

export type EngineApp = 'admin-api' | 'deployer' | 'gateway' | 'mongo-writer';

/** The engine's apps as processes on the test's services, each with its own NATS identity. */
export interface EngineStack {
  /** admin-api's base URL. */
  api: string;
  gatewayHttp: string;
  /** `host:port` of the gateway's gRPC face. */
  gatewayGrpc: string;
  /** Every started process (its output, for a failing test). */
  apps: AppProcess[];
  /** Stops the apps (the deployer's workloads keep running: the caller kills them). */
  stop(): Promise<void>;
}

/**
 * Starts `apps` (default: all four) against `env`'s services, the deployer's state under
 * `<work>/state`, and resolves once each answers its /health. `extra` adds to one app's env.
 */
export async function startEngine(options: {
  /** `testEnv()`: the services' URLs, the NATS authority and the prefix. */
  env: ReturnType<typeof testEnv>;
  work: string;
  adminEmail: string;
  apps?: readonly EngineApp[];
  extra?: Partial<Record<EngineApp, Record<string, string>>>;
}): Promise<EngineStack> {
  const { env, work } = options;
  const wanted = new Set(options.apps ?? ['admin-api', 'deployer', 'gateway', 'mongo-writer']);
  const [apiPort, deployerPort, writerPort, httpPort, grpcPort, gatewayHealth] = await Promise.all(
    Array.from({ length: 6 }, () => freePort()),
  );
  const api = `http://127.0.0.1:${apiPort}`;
  const gatewayHttp = `http://127.0.0.1:${httpPort}`;
  const gatewayGrpc = `127.0.0.1:${grpcPort}`;
  const own: Record<EngineApp, { env: Record<string, string>; health: string }> = {
    'admin-api': {
      env: {
        ADMIN_API_PORT: String(apiPort),
        FRONTEND_URL: api,
        GATEWAY_PUBLIC_HTTP_URL: gatewayHttp,
        GATEWAY_PUBLIC_GRPC_ADDRESS: gatewayGrpc,
      },
      health: `${api}/health`,
    },
    deployer: {
      env: { DEPLOYER_HEALTH_PORT: String(deployerPort), KRE_STATE_DIR: join(work, 'state') },
      health: `http://127.0.0.1:${deployerPort}/health`,
    },
    'mongo-writer': {
      env: { MONGO_WRITER_HEALTH_PORT: String(writerPort) },
      health: `http://127.0.0.1:${writerPort}/health`,
    },
    gateway: {
      env: {
        GATEWAY_HTTP_PORT: String(httpPort),
        GATEWAY_GRPC_PORT: String(grpcPort),
        GATEWAY_HEALTH_PORT: String(gatewayHealth),
      },
      health: `http://127.0.0.1:${gatewayHealth}/health`,
    },
  };
  const apps: AppProcess[] = [];
  const started: [AppProcess, string][] = [];
  for (const app of ['admin-api', 'deployer', 'mongo-writer', 'gateway'] as const) {
    if (!wanted.has(app)) continue;
    // Each app with its own NATS identity and the permissions it has in production.
    const process = runApp(app, {
      ...env,
      ADMIN_EMAIL: options.adminEmail,
      NATS_CREDS: await engineCredentials(env, app),
      ...own[app].env,
      ...options.extra?.[app],
    });
    apps.push(process);
    started.push([process, own[app].health]);
  }
  await Promise.all(started.map(([process, health]) => waitForHttp(health, process)));
  return {
    api,
    gatewayHttp,
    gatewayGrpc,
    apps,
    stop: async () => {
      await Promise.all(apps.map((a) => a.stop()));
    },
  };
}
