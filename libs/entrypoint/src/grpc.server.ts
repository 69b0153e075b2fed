import {
  type Deadline,
  Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type UntypedServiceImplementation,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import { KreHeader } from '@libs/messaging/workload';
import type { GrpcHealthService } from './grpc-health.service.js';
import type { GrpcReflectionService } from './grpc-reflection.service.js';
import type { RpcCalls } from './rpc-calls.service.js';
import { RpcError } from '@libs/messaging/workload';

const remainingMs = (deadline: Deadline): number | undefined => {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) ? Math.max(1, at - Date.now()) : undefined;
};

const first = (md: Metadata, key: string): string | undefined => {
  const value = md.get(key)[0];
  return typeof value === 'string' ? value : undefined;
};

/**
 * The entrypoint's gRPC server: every unary rpc of the version's `service Entrypoint` (bytes
 * passed through, no re-encoding on the way in), the standard health service, and server
 * reflection (v1 and v1alpha) describing the version's proto.
 */
export class EntrypointGrpcServer {
  private readonly server: Server;

  constructor(
    private readonly calls: RpcCalls,
    maxRequestBytes: number,
    private readonly health: GrpcHealthService,
    reflection: GrpcReflectionService,
  ) {
    this.server = new Server({
      'grpc.max_receive_message_length': maxRequestBytes,
      'grpc.max_send_message_length': -1,
    });
    this.addEntrypoint();
    health.addTo(this.server);
    reflection.addTo(this.server);
  }

  private addEntrypoint(): void {
    const definition: Record<string, protoLoader.MethodDefinition<Buffer, Buffer>> = {};
    const implementation: UntypedServiceImplementation = {};
    for (const rpc of this.calls.proto.rpcs.values()) {
      definition[rpc.name] = {
        ...(rpc.definition as unknown as protoLoader.MethodDefinition<Buffer, Buffer>),
        requestDeserialize: (bytes: Buffer) => bytes,
        responseSerialize: (bytes: Buffer) => bytes,
      };
      implementation[rpc.name] = rpc.streaming
        ? (call: { emit(event: 'error', error: object): void; end?: () => void }) =>
            call.emit('error', {
              code: status.UNIMPLEMENTED,
              details: `${rpc.path} is a streaming rpc: only unary rpcs are supported yet`,
            })
        : (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) =>
            void this.unary(rpc.name, call, callback);
    }
    this.server.addService(definition, implementation);
  }

  private async unary(
    rpc: string,
    call: ServerUnaryCall<Buffer, Buffer>,
    callback: sendUnaryData<Buffer>,
  ): Promise<void> {
    const requestId = crypto.randomUUID();
    // The request id goes back in the trailers: sending initial metadata early costs an extra
    // HTTP/2 frame per call.
    const trailers = new Metadata();
    trailers.set(KreHeader.requestId, requestId);
    try {
      const response = await this.calls.callBinary(rpc, call.request, {
        requestId,
        deadlineMs: remainingMs(call.getDeadline()),
        traceparent: first(call.metadata, 'traceparent'),
        tracestate: first(call.metadata, 'tracestate'),
      });
      callback(
        null,
        Buffer.from(response.buffer, response.byteOffset, response.byteLength),
        trailers,
      );
    } catch (error) {
      const rpcError =
        error instanceof RpcError
          ? error
          : new RpcError('INTERNAL', error instanceof Error ? error.message : String(error));
      callback({ code: rpcError.grpcStatus, details: rpcError.message, metadata: trailers });
    }
  }

  /** Listens on `host:port`; resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(
        `${host}:${port}`,
        ServerCredentials.createInsecure(),
        (error, bound) => {
          if (error)
            reject(
              new Error(`cannot listen for gRPC on ${host}:${port}: ${error.message}`, {
                cause: error,
              }),
            );
          else {
            this.health.serve();
            resolve(bound);
          }
        },
      );
    });
  }

  get isServing(): boolean {
    return this.health.isServing;
  }

  /** Stops taking calls and waits (at most `graceMs`) for those in progress. */
  async stop(graceMs: number): Promise<void> {
    this.health.shutdown();
    await new Promise<void>((done) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        done();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        done();
      });
    });
  }
}
