import type { status as GrpcStatus } from '@grpc/grpc-js';

/** How a request failed, named after the gRPC status codes. */
export type RpcErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'DEADLINE_EXCEEDED'
  | 'RESOURCE_EXHAUSTED'
  | 'UNIMPLEMENTED'
  | 'INTERNAL'
  | 'UNAVAILABLE';

/**
 * The gRPC status codes (fixed by the gRPC spec), so that the runner, which loads this module
 * but never serves gRPC, need not load @grpc/grpc-js (about 13 MB of a workload's memory).
 */
const GRPC_STATUS: Record<RpcErrorCode, number> = {
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
};

const HTTP_STATUS: Record<RpcErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  DEADLINE_EXCEEDED: 504,
  RESOURCE_EXHAUSTED: 413,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
};

/** A failure to report to the client, the same on gRPC and HTTP. */
export class RpcError extends Error {
  constructor(
    readonly code: RpcErrorCode,
    message: string,
    readonly requestId?: string,
  ) {
    super(message);
    this.name = 'RpcError';
  }

  get grpcStatus(): GrpcStatus {
    return GRPC_STATUS[this.code];
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.code];
  }

  /** The HTTP body: `{code, message, requestId?}`. */
  toJSON(): { code: RpcErrorCode; message: string; requestId?: string } {
    return {
      code: this.code,
      message: this.message,
      ...(this.requestId ? { requestId: this.requestId } : {}),
    };
  }
}
