import type { DynamicModule, INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createLogger } from './logger.js';
import { IDLE_MEMORY_DEFAULTS, IdleMemoryTrimmer } from './idle-memory.js';

export interface AppBootstrapEnv {
  LOG_LEVEL: LogLevel;
  LOG_FORMAT: 'json' | 'text';
}

/**
 * Creates an app, enables shutdown hooks (SIGTERM drains NATS, closes workers and Mongo) and
 * listens on `host:port`. Returns the app and the URL it listens on.
 */
export async function startHttpApp(
  name: string,
  module: DynamicModule,
  env: AppBootstrapEnv,
  listen: { host: string; port: number },
  configure?: (app: INestApplication) => void | Promise<void>,
): Promise<{ app: INestApplication; url: string }> {
  const logger = createLogger(name, env);
  const app = await NestFactory.create(module, { logger, bufferLogs: true });
  app.enableShutdownHooks();
  await configure?.(app);
  await app.listen(listen.port, listen.host);
  const server = app.getHttpServer() as import('node:http').Server;
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : listen.port;
  const url = `http://${listen.host}:${port}`;
  logger.log(`${name} listening on ${url}`, 'Bootstrap');
  // What a burst of work grew the heap to is given back once the app has been idle for 30 s: a
  // trim makes the next burst's first seconds slower (the gateway's first 5 s at c=64 served
  // about a quarter fewer calls: V8 regrows its young generation and recompiles), so an engine
  // app waits longer than a workload (6 s) before it trims.
  new IdleMemoryTrimmer(undefined, { ...IDLE_MEMORY_DEFAULTS, idleSamples: 15 }).start();
  return { app, url };
}
