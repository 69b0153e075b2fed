import {
  type AnyMessage,
  type JsonValue,
  type PayloadCodec,
  ProtoJsonError,
  decodeToJson,
  encodeFromJson,
  typeNameOf,
  typeUrlOf,
} from '@libs/messaging/workload';
import { RpcError } from '@libs/messaging/workload';
import { tracing } from '@libs/observability/workload';
import type { RequestErrorsService } from './request-errors.service.js';
import type { RpcInfo, VersionProto } from './version-proto.loader.js';
import type { WorkflowAnswer, WorkflowClient } from './workflow.client.js';

export interface CallOptions {
  /** The client's own deadline, if earlier than the configured timeout. */
  deadlineMs?: number;
  requestId?: string;
  traceparent?: string;
  tracestate?: string;
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * The rpcs of the version's `service Entrypoint`, as gRPC (binary) and HTTP/JSON calls: checks
 * the request, sends it into the rpc's workflow, and converts the answer to the rpc's response
 * type (a plain-object answer must fit it: unknown fields are an error).
 */
export class RpcCalls {
  constructor(
    readonly proto: VersionProto,
    private readonly client: WorkflowClient,
    private readonly codec: PayloadCodec,
    private readonly timeoutMs: number,
    /** Where a failed call is recorded for the version's team (the version's logs). */
    private readonly errors?: RequestErrorsService,
  ) {}

  /** @throws RpcError NOT_FOUND for an unknown rpc, UNIMPLEMENTED for a streaming one. */
  rpc(name: string): RpcInfo {
    const rpc = this.proto.rpcs.get(name);
    if (!rpc)
      throw new RpcError(
        'NOT_FOUND',
        `${this.proto.serviceName} has no rpc "${name}" (rpcs: ${[...this.proto.rpcs.keys()].join(', ')})`,
      );
    if (rpc.streaming)
      throw new RpcError(
        'UNIMPLEMENTED',
        `${rpc.path} is a streaming rpc: only unary rpcs are supported yet`,
      );
    return rpc;
  }

  /** A gRPC call: the request's bytes in, the response's bytes out. */
  callBinary(name: string, request: Uint8Array, options: CallOptions = {}): Promise<Uint8Array> {
    return this.recorded(name, options, (traced) => this.binary(name, request, traced));
  }

  /** An HTTP call: proto3 JSON in and out. */
  callJson(name: string, body: unknown, options: CallOptions = {}): Promise<JsonValue> {
    return this.recorded(name, options, (traced) => this.json(name, body, traced));
  }

  /**
   * Runs a call in its span (a child of the caller's trace context; the workflow's first node
   * continues from it); a failure is recorded in the version's logs, then thrown on.
   */
  private async recorded<T>(
    name: string,
    options: CallOptions,
    call: (options: CallOptions) => Promise<T>,
  ): Promise<T> {
    const span = tracing('entrypoint').start(`entrypoint ${name}`, {
      kind: 'server',
      from: options,
      attributes: { 'rpc.method': name, 'kre.request_id': options.requestId ?? '' },
    });
    try {
      return await call(span.headers ? { ...options, ...span.headers } : options);
    } catch (error) {
      span.fail(error);
      this.errors?.failed(name, error, options.requestId);
      throw error;
    } finally {
      span.end();
    }
  }

  private async binary(
    name: string,
    request: Uint8Array,
    options: CallOptions,
  ): Promise<Uint8Array> {
    const rpc = this.rpc(name);
    try {
      rpc.requestType.decode(request);
    } catch (error) {
      throw new RpcError(
        'INVALID_ARGUMENT',
        `the request is not a valid ${fullName(rpc.requestType)}: ${errorText(error)}`,
      );
    }
    const answer = await this.send(
      rpc,
      { type_url: typeUrlOf(rpc.requestType), value: request },
      options,
    );
    return this.responseBytes(rpc, answer);
  }

  private async json(name: string, body: unknown, options: CallOptions): Promise<JsonValue> {
    const rpc = this.rpc(name);
    let request: Uint8Array;
    try {
      request = encodeFromJson(rpc.requestType, body);
    } catch (error) {
      if (error instanceof ProtoJsonError)
        throw new RpcError(
          'INVALID_ARGUMENT',
          `the request does not fit ${fullName(rpc.requestType)}: ${error.message}`,
        );
      throw error;
    }
    const answer = await this.send(
      rpc,
      { type_url: typeUrlOf(rpc.requestType), value: request },
      options,
    );
    const bytes = this.responseBytes(rpc, answer);
    return decodeToJson(rpc.responseType, bytes);
  }

  private send(rpc: RpcInfo, request: AnyMessage, options: CallOptions): Promise<WorkflowAnswer> {
    const timeoutMs = Math.max(1, Math.min(this.timeoutMs, options.deadlineMs ?? Infinity));
    return this.client.call(rpc.name, request, { ...options, timeoutMs });
  }

  /** The answer as the rpc's response message (binary). */
  private responseBytes(rpc: RpcInfo, answer: WorkflowAnswer): Uint8Array {
    const { payload } = answer;
    const responseName = fullName(rpc.responseType);
    if (!payload) return new Uint8Array();
    try {
      if (typeNameOf(payload.type_url) === responseName) {
        rpc.responseType.decode(payload.value);
        return payload.value;
      }
      return encodeFromJson(rpc.responseType, this.codec.toJson(payload));
    } catch (error) {
      throw new RpcError(
        'INTERNAL',
        `the answer of node "${answer.fromNode}" does not fit ${responseName}: ${errorText(error)}`,
        answer.requestId,
      );
    }
  }
}

function fullName(type: { fullName: string }): string {
  return type.fullName.slice(1);
}
