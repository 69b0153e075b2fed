import type { DynamicModule, INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createLogger } from './logger.js';

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
  return { app, url };
}
