import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { type INestApplication, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Counter, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthModule } from './health.module.js';
import { MetricsController, MetricsServer } from './metrics.js';

/** A service of the app adding its own series to the app's registry. */
@Injectable()
class Counting {
  readonly calls: Counter<'runtime'>;
  constructor(registry: Registry) {
    this.calls = new Counter({
      name: 'test_calls_total',
      help: 'calls',
      labelNames: ['runtime'],
      registers: [registry],
    });
  }
}

@Module({
  imports: [HealthModule.forRoot({ inject: [], useFactory: () => [] })],
  providers: [Counting],
})
class TestAppModule {}

describe(MetricsController.name, () => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    app = await NestFactory.create(TestAppModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    const address = (app.getHttpServer() as Server).address() as AddressInfo;
    url = `http://127.0.0.1:${address.port}`;
  });
  afterAll(() => app?.close());

  it("serves the app's registry in Prometheus's text format: process series and its services' own", async () => {
    app.get(Counting).calls.inc({ runtime: 'demo' }, 2);
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toContain('test_calls_total{runtime="demo"} 2');
    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
  });

  it('gives each app its own registry, so two apps in one process do not collide', async () => {
    const other = await NestFactory.create(TestAppModule, { logger: false });
    await other.init();
    expect(other.get(Registry)).not.toBe(app.get(Registry));
    await other.close();
  });
});

@Module({
  imports: [
    HealthModule.forRoot({ inject: [], useFactory: () => [] }, { host: '127.0.0.1', port: 0 }),
  ],
  providers: [Counting],
})
class PublicPortAppModule {}

describe(MetricsServer.name, () => {
  it("serves /metrics on a port of its own and nowhere on the app's port", async () => {
    const app = await NestFactory.create(PublicPortAppModule, { logger: false });
    try {
      await app.listen(0, '127.0.0.1');
      const address = (app.getHttpServer() as Server).address() as AddressInfo;
      app.get(Counting).calls.inc({ runtime: 'demo' });
      const onApp = await fetch(`http://127.0.0.1:${address.port}/metrics`);
      expect(onApp.status).toBe(404);
      // /health stays where the probes look for it.
      expect((await fetch(`http://127.0.0.1:${address.port}/livez`)).status).toBe(200);
      const own = `http://127.0.0.1:${app.get(MetricsServer).port}`;
      const metrics = await fetch(`${own}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('test_calls_total{runtime="demo"} 1');
      expect((await fetch(`${own}/health`)).status).toBe(404);
    } finally {
      await app.close();
    }
  });
});
