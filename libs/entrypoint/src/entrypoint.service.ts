import { WorkloadLogger } from '@libs/observability/workload';
import type { EntrypointEnv } from './entrypoint.env.js';
import type { EntrypointGrpcServer } from './grpc.server.js';
import type { EntrypointHttpServer } from './http.server.js';
import type { VersionProto } from './version-proto.loader.js';
import type { WorkflowClient } from './workflow.client.js';

/** What one entrypoint replica runs; `composeEntrypoint` (entrypoint.composition.ts) wires it. */
export interface EntrypointParts {
  proto: VersionProto;
  client: WorkflowClient;
  grpc: EntrypointGrpcServer;
  http: EntrypointHttpServer;
}

/**
 * One per started version: serves the version's rpcs over gRPC and HTTP/JSON and sends each
 * request into its workflow (docs/data-plane.md).
 */
export class EntrypointService {
  private readonly logger = new WorkloadLogger('Entrypoint');
  private stopping = false;

  constructor(
    private readonly env: EntrypointEnv,
    private readonly parts: EntrypointParts,
  ) {}

  /** Ready = both servers listen and replies are subscribed. */
  readiness(): { ready: boolean; reason: string } {
    if (this.stopping) return { ready: false, reason: 'stopping' };
    if (!this.parts.grpc.isServing || !this.parts.http.isListening)
      return { ready: false, reason: 'not listening yet' };
    return { ready: true, reason: 'serving' };
  }

  /** Subscribes to the replies, then listens for gRPC and HTTP. */
  async start(): Promise<void> {
    const { env } = this;
    const { proto, client, grpc, http } = this.parts;
    const unrouted = [...proto.rpcs.keys()].filter((rpc) => !env.KRT_ENTRYPOINT_ROUTES[rpc]);
    if (unrouted.length)
      this.logger.warn(
        `rpc(s) ${unrouted.join(', ')} of ${proto.serviceName} have no workflow: they answer NOT_FOUND`,
      );
    client.start();
    const grpcPort = await grpc.listen(env.KRT_LISTEN_HOST, env.KRT_GRPC_PORT);
    const httpPort = await http.listen(env.KRT_LISTEN_HOST, env.KRT_HTTP_PORT);
    this.logger.log(
      `serving ${proto.serviceName} (${[...proto.rpcs.keys()].join(', ')}) on gRPC :${grpcPort} and HTTP :${httpPort}`,
    );
  }

  /** SIGTERM: stop taking requests, let those in progress finish (up to the request timeout). */
  async stop(): Promise<void> {
    this.stopping = true;
    const graceMs = this.env.KRT_REQUEST_TIMEOUT * 1000 + 1_000;
    const { grpc, http, client } = this.parts;
    await Promise.all([grpc.stop(graceMs), http.stop(graceMs)]);
    client.stop();
  }
}
