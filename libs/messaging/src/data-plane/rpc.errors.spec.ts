import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { RpcError, type RpcErrorCode } from './rpc.errors.js';

const CODES: RpcErrorCode[] = [
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'DEADLINE_EXCEEDED',
  'RESOURCE_EXHAUSTED',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
];

describe('RpcError', () => {
  it.each(CODES)('%s carries the gRPC status grpc-js gives that name', (code) => {
    expect(new RpcError(code, 'x').grpcStatus).toBe(status[code]);
  });
});
