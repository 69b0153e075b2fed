import { randomBytes } from 'node:crypto';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { resolveInsideKrt } from '@libs/config';
import { NATS_CONNECTION, PayloadCodec } from '@libs/messaging';
import { Names } from '@libs/naming';
import type { EntrypointEnv } from './entrypoint.env.js';
import { GrpcHealthService } from './grpc-health.service.js';
import { GrpcReflectionService } from './grpc-reflection.service.js';
import { EntrypointGrpcServer } from './grpc-server.js';
import { EntrypointHttpServer } from './http-server.js';
import { RpcCalls } from './rpc-calls.js';
import { loadVersionProto } from './version-proto.js';
import { WorkflowClient } from './workflow-client.js';

export const ENTRYPOINT_ENV = Symbol('ENTRYPOINT_ENV');

/**
 * One per started version: loads the version's proto, serves its rpcs over gRPC and HTTP/JSON,
 * and sends each request into its workflow (docs/data-plane.md).
 */
@Injectable()
export class EntrypointService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Entrypoint');
  private client?: WorkflowClient;
  private grpc?: EntrypointGrpcServer;
  private http?: EntrypointHttpServer;
  private stopping = false;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(ENTRYPOINT_ENV) private readonly env: EntrypointEnv,
  ) {}

  /** Ready = both servers listen and replies are subscribed. */
  readiness(): { ready: boolean; reason: string } {
    if (this.stopping) return { ready: false, reason: 'stopping' };
    if (!this.grpc?.isServing || !this.http?.isListening)
      return { ready: false, reason: 'not listening yet' };
    return { ready: true, reason: 'serving' };
  }

  async onApplicationBootstrap(): Promise<void> {
    const env = this.env;
    const proto = loadVersionProto(
      resolveInsideKrt(env.KRT_BASE_PATH, env.KRT_ENTRYPOINT_PROTO),
      env.KRT_BASE_PATH,
    );
    const unrouted = [...proto.rpcs.keys()].filter((rpc) => !env.KRT_ENTRYPOINT_ROUTES[rpc]);
    if (unrouted.length)
      this.logger.warn(
        `rpc(s) ${unrouted.join(', ')} of ${proto.serviceName} have no workflow: they answer NOT_FOUND`,
      );
    const replica = randomBytes(6).toString('hex');
    const replySubject = new Names(env.KRE_PREFIX).entrypointReplySubject(
      env.KRT_RUNTIME_ID,
      env.KRT_VERSION,
      replica,
    );
    this.client = new WorkflowClient(this.nc, replySubject, env.KRT_ENTRYPOINT_ROUTES);
    this.client.start();
    const calls = new RpcCalls(
      proto,
      this.client,
      new PayloadCodec(proto.root),
      env.KRT_REQUEST_TIMEOUT * 1000,
    );
    const health = new GrpcHealthService(proto.serviceName);
    const reflection = new GrpcReflectionService([
      proto.packageDefinition,
      health.packageDefinition,
    ]);
    this.grpc = new EntrypointGrpcServer(calls, env.KRT_MAX_REQUEST_BYTES, health, reflection);
    this.http = new EntrypointHttpServer(calls, env.KRT_MAX_REQUEST_BYTES);
    const grpcPort = await this.grpc.listen(env.KRT_LISTEN_HOST, env.KRT_GRPC_PORT);
    const httpPort = await this.http.listen(env.KRT_LISTEN_HOST, env.KRT_HTTP_PORT);
    this.logger.log(
      `serving ${proto.serviceName} (${[...proto.rpcs.keys()].join(', ')}) on gRPC :${grpcPort} and HTTP :${httpPort}`,
    );
  }

  /** SIGTERM: stop taking requests, let those in progress finish (up to the request timeout). */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    const graceMs = this.env.KRT_REQUEST_TIMEOUT * 1000 + 1_000;
    await Promise.all([this.grpc?.stop(graceMs), this.http?.stop(graceMs)]);
    this.client?.stop();
  }
}
