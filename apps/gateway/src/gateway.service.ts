import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { NATS_CONNECTION, openGatewayRoutes } from '@libs/messaging';
import { Names } from '@libs/naming';
import type { GatewayEnv } from './gateway.env.js';
import { GatewayGrpcProxy } from './grpc-proxy.js';
import { GatewayHttpProxy } from './http-proxy.js';
import { RouteTable } from './route-table.js';

export const GATEWAY_ENV = Symbol('GATEWAY_ENV');

/** Loads and follows the routes, then serves HTTP and gRPC on their ports. */
@Injectable()
export class GatewayService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Gateway');
  readonly routes = new RouteTable();
  private readonly http = new GatewayHttpProxy(this.routes);
  private readonly grpc = new GatewayGrpcProxy(this.routes);
  private stopping = false;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    private readonly names: Names,
  ) {}

  readiness(): { ready: boolean; reason: string } {
    if (this.stopping) return { ready: false, reason: 'stopping' };
    if (!this.routes.ready) return { ready: false, reason: 'routes not loaded yet' };
    if (!this.http.isListening || !this.grpc.isListening)
      return { ready: false, reason: 'not listening yet' };
    return { ready: true, reason: 'serving' };
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.routes.start(await openGatewayRoutes(this.nc, this.names));
    const { GATEWAY_HOST: host } = this.env;
    const httpPort = await this.http.listen(host, this.env.GATEWAY_HTTP_PORT);
    const grpcPort = await this.grpc.listen(host, this.env.GATEWAY_GRPC_PORT);
    this.logger.log(
      `routing HTTP on ${host}:${httpPort} and gRPC on ${host}:${grpcPort} (${this.names.gatewayBucket()})`,
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await Promise.all([this.http.stop(5_000), this.grpc.stop(5_000)]);
    this.routes.stop();
  }
}
