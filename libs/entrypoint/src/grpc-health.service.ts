import {
  type Server,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import { loadGrpcProto } from './grpc-protos.loader.js';

interface HealthRequest {
  service?: string;
}

/**
 * The standard health service `grpc.health.v1.Health`: `""` and the version's service are
 * SERVING while the gRPC server is bound and NOT_SERVING from shutdown on; other names are
 * NOT_FOUND (Watch: SERVICE_UNKNOWN).
 *
 * Hand-written on purpose: grpc-node's `grpc-health-check` (2.x) was considered and would save a
 * few lines, but it never ends Watch streams, so at shutdown `tryShutdown` would wait the whole
 * grace period for any open watcher (here each is told NOT_SERVING and ended), and it brings a
 * second @grpc/proto-loader (0.7, beside ours) with its own copy of health.proto, while
 * reflection describes the one served here.
 */
export class GrpcHealthService {
  /** health.proto as served, for reflection to describe. */
  readonly packageDefinition: protoLoader.PackageDefinition = loadGrpcProto(
    'grpc/health/v1/health.proto',
  );
  private serving = false;
  private readonly watchers = new Set<ServerWritableStream<HealthRequest, unknown>>();

  /** @param serviceName the version's service (`greeter.Entrypoint`), known besides `""`. */
  constructor(private readonly serviceName: string) {}

  get isServing(): boolean {
    return this.serving;
  }

  private status(service: string): 'SERVING' | 'NOT_SERVING' | undefined {
    if (service !== '' && service !== this.serviceName) return undefined;
    return this.serving ? 'SERVING' : 'NOT_SERVING';
  }

  addTo(server: Server): void {
    server.addService(
      this.packageDefinition['grpc.health.v1.Health'] as protoLoader.ServiceDefinition,
      {
        Check: (
          call: ServerUnaryCall<HealthRequest, unknown>,
          callback: sendUnaryData<unknown>,
        ) => {
          const state = this.status(call.request.service ?? '');
          if (!state)
            callback({
              code: status.NOT_FOUND,
              details: `unknown service "${call.request.service}"`,
            });
          else callback(null, { status: state });
        },
        Watch: (call: ServerWritableStream<HealthRequest, unknown>) => {
          call.write({ status: this.status(call.request.service ?? '') ?? 'SERVICE_UNKNOWN' });
          this.watchers.add(call);
          call.on('cancelled', () => this.watchers.delete(call));
        },
      },
    );
  }

  /** The server is bound: SERVING from now on. */
  serve(): void {
    this.serving = true;
  }

  /** NOT_SERVING; each watcher is told so and its stream ends, so the server can shut down. */
  shutdown(): void {
    this.serving = false;
    for (const watcher of this.watchers) {
      watcher.write({ status: 'NOT_SERVING' });
      watcher.end();
    }
  }
}
