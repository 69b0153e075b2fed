import { createServer, type Server } from 'node:http';
import {
  Controller,
  Get,
  Header,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { closeWithin, listenOn } from './server-lifecycle.js';

/**
 * The app's Prometheus registry: Node's process metrics (`process_*`, `nodejs_*`) plus what its
 * services add. One per app (not prom-client's global one), so several apps in one test process
 * do not collide. Injected as `Registry` (HealthModule provides it to the whole app); the scrape
 * adds which app and pod it is (`job`, `instance`).
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** `GET /metrics`: the registry in Prometheus's text format (docs/observability.md, names). */
@Controller()
export class MetricsController {
  constructor(private readonly registry: Registry) {}

  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  @Header('cache-control', 'no-store')
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Where an app serves `/metrics` on a listener of its own instead of its main port. */
export interface MetricsListen {
  readonly host: string;
  /** 0: any free port (tests read `port` afterwards). */
  readonly port: number;
}

/**
 * `GET /metrics` on a port of its own (an app whose main port is public, as admin-api's behind
 * its Ingress: the series name runtimes and versions and count their traffic). Everything else on
 * that port is 404.
 */
export class MetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(MetricsServer.name);
  private readonly server: Server;
  /** The bound port, once the app has started. */
  port = 0;

  constructor(
    private readonly registry: Registry,
    private readonly listen: MetricsListen,
  ) {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method !== 'GET' || path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
        return;
      }
      this.registry.metrics().then(
        (text) =>
          res
            .writeHead(200, {
              'content-type': 'text/plain; version=0.0.4; charset=utf-8',
              'cache-control': 'no-store',
            })
            .end(text),
        (error: unknown) => {
          this.logger.error(`metrics not collected: ${String(error)}`);
          res.writeHead(500).end();
        },
      );
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    this.port = await listenOn(this.server, '/metrics', this.listen.host, this.listen.port);
    this.logger.log(`/metrics on http://${this.listen.host}:${this.port} (not on the app's port)`);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.server.listening) await closeWithin(this.server, 1_000);
  }
}
