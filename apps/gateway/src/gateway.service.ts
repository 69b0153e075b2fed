import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { CLOCK, type Clock } from '@libs/core';
import { NATS_CONNECTION, bindInvocationKeys, openGatewayRoutes } from '@libs/messaging';
import { Names } from '@libs/naming';
import { GatewayAdmission, KeyUsageReporter } from './admission.js';
import { CallLimits } from './call-limits.js';
import type { GatewayEnv } from './gateway.env.js';
import { GatewayMetrics } from './gateway-metrics.js';
import { GatewayGrpcProxy } from './grpc-proxy.js';
import { runtimeHostPatterns } from './runtime-host.js';
import { GatewayHttpProxy } from './http-proxy.js';
import { InvocationKeysTable } from './invocation-keys.table.js';
import { RouteTable } from './route-table.js';

export const GATEWAY_ENV = Symbol('GATEWAY_ENV');

/** The per-runtime and per-key limits the environment sets. */
export function callLimitsOf(env: GatewayEnv): CallLimits {
  return new CallLimits({
    runtime: {
      ratePerSecond: env.GATEWAY_RUNTIME_RATE,
      burst: env.GATEWAY_RUNTIME_BURST,
      concurrency: env.GATEWAY_RUNTIME_CONCURRENCY,
    },
    key: {
      ratePerSecond: env.GATEWAY_KEY_RATE,
      burst: env.GATEWAY_KEY_BURST,
      concurrency: env.GATEWAY_KEY_CONCURRENCY,
    },
  });
}

/** Loads and follows the routes and invocation keys, then serves HTTP and gRPC on their ports. */
@Injectable()
export class GatewayService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Gateway');
  readonly routes = new RouteTable();
  readonly keys = new InvocationKeysTable();
  private readonly http: GatewayHttpProxy;
  private readonly grpc: GatewayGrpcProxy;
  private stopping = false;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    private readonly names: Names,
    @Inject(CLOCK) clock: Clock,
    @Optional() registry?: Registry,
  ) {
    const admission = new GatewayAdmission(
      this.routes,
      this.keys,
      callLimitsOf(env),
      KeyUsageReporter.overNats(nc, names.invocationKeyUsedSubject()),
      clock,
    );
    const runtimeHosts = runtimeHostPatterns(env.GATEWAY_RUNTIME_HOSTS);
    const metrics = new GatewayMetrics(registry);
    this.http = new GatewayHttpProxy(admission, runtimeHosts, metrics);
    this.grpc = new GatewayGrpcProxy(admission, runtimeHosts, metrics);
  }

  readiness(): { ready: boolean; reason: string } {
    if (this.stopping) return { ready: false, reason: 'stopping' };
    if (!this.routes.ready) return { ready: false, reason: 'routes not loaded yet' };
    if (!this.keys.ready) return { ready: false, reason: 'invocation keys not loaded yet' };
    if (!this.http.isListening || !this.grpc.isListening)
      return { ready: false, reason: 'not listening yet' };
    return { ready: true, reason: 'serving' };
  }

  async onApplicationBootstrap(): Promise<void> {
    const keys = this.keys.follow(() => bindInvocationKeys(this.nc, this.names));
    await this.routes.start(await openGatewayRoutes(this.nc, this.names));
    // Serving before the keys are readable is safe: until then every runtime is closed.
    if (!(await keys.firstAttempt))
      this.logger.warn(
        `serving with every runtime closed until admin-api creates ${this.names.invocationKeysBucket()}`,
      );
    const { GATEWAY_HOST: host } = this.env;
    const httpPort = await this.http.listen(host, this.env.GATEWAY_HTTP_PORT);
    const grpcPort = await this.grpc.listen(host, this.env.GATEWAY_GRPC_PORT);
    this.logger.log(
      `routing HTTP on ${host}:${httpPort} and gRPC on ${host}:${grpcPort} (${this.names.gatewayBucket()}, keys ${this.names.invocationKeysBucket()})`,
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await Promise.all([this.http.stop(5_000), this.grpc.stop(5_000)]);
    this.routes.stop();
    this.keys.stop();
  }
}
