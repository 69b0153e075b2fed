import { Controller, Get, Header } from '@nestjs/common';
import { Registry, collectDefaultMetrics } from 'prom-client';

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
