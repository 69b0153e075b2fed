import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvocationKeysBucket, connectNats } from '@libs/messaging';
import { Names } from '@libs/naming';
import { OWNER_ENV, killWithGroup, processesWithEnv } from '@libs/orchestrator';
import {
  engineCredentials,
  freePort,
  runApp,
  waitForHttp,
  type AppProcess,
  type testEnv,
} from '@libs/testing';
import type { NatsConnection } from '@nats-io/transport-node';
import { expect } from 'vitest';
import { openControlPlane, type ControlPlane } from './deployer-harness.js';

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

/**
 * The engine's apps on one machine (local driver) driven the way admin-api would, for the specs
 * that test the deployer and gateway processes without admin-api: a work folder, the catalog and
 * job producers (`plane`), a NATS connection with the apps' authority, the runtimes' invocation
 * keys (none required), and the apps. `close()` also kills the workloads the deployer left.
 */
export interface LocalEngine {
  work: string;
  plane: ControlPlane;
  nc: NatsConnection;
  gatewayHttp: string;
  gatewayGrpc: string;
  /** The pids of the workload processes this engine's deployer started (its owner mark). */
  owned(): Promise<number[]>;
  /** Creates a runtime as admin-api does (record, `create` job) and waits until it is CREATED. */
  createRuntime(runtimeId: string, name: string): Promise<void>;
  close(): Promise<void>;
}

export async function startLocalEngine(options: {
  env: ReturnType<typeof testEnv>;
  /** The work folder's name prefix, e.g. `kre-autoscale-e2e-`. */
  name: string;
  /** Runtimes whose calls the gateway takes without an invocation key. */
  openRuntimes: readonly string[];
  apps: readonly EngineApp[];
  extra?: Partial<Record<EngineApp, Record<string, string>>>;
}): Promise<LocalEngine> {
  const { env } = options;
  const work = await mkdtemp(join(tmpdir(), options.name));
  const owned = () => processesWithEnv(OWNER_ENV, `${env.KRE_PREFIX}@${join(work, 'state')}`);
  const closers: (() => Promise<unknown>)[] = [() => rm(work, { recursive: true, force: true })];
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) await closer();
  };
  try {
    const plane = await openControlPlane(env);
    closers.push(() => plane.close());
    const nc = await connectNats({
      url: env.NATS_URL,
      credentials: env.NATS_CREDS,
      name: options.name,
    });
    closers.push(() => nc.drain());
    // admin-api's part: the invocation keys (none required here) the gateway follows.
    const keys = await InvocationKeysBucket.open(nc, new Names(env.KRE_PREFIX));
    for (const rt of options.openRuntimes)
      await keys.put(rt, { generation: 1, requireKey: false, keys: [] });
    closers.push(async () => {
      for (const pid of await owned()) await killWithGroup(pid);
    });
    const engine = await startEngine({
      env,
      work,
      adminEmail: `admin@${env.KRE_PREFIX}.test`,
      apps: options.apps,
      extra: options.extra,
    });
    closers.push(() => engine.stop());
    return {
      work,
      plane,
      nc,
      gatewayHttp: engine.gatewayHttp,
      gatewayGrpc: engine.gatewayGrpc,
      owned,
      createRuntime: async (runtimeId, name) => {
        await plane.runtimes.create({ _id: runtimeId, name, description: '', createdBy: 'e2e' });
        await plane.runtimeJobs.add('create', { runtimeId, by: 'e2e' });
        await expect
          .poll(async () => (await plane.runtimes.get(runtimeId)).status, { timeout: 30_000 })
          .toBe('CREATED');
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
