import { hostname } from 'node:os';
import { WorkloadLogger } from '@libs/observability/workload';
import type { NatsConnection } from '@nats-io/transport-node';
import { RpcError, type RpcErrorCode, encodeRecord, newRecordId } from '@libs/messaging/workload';

/** Failures of the request itself (the client's to fix): WARN; the others are ERROR. */
const CLIENT_CODES: readonly RpcErrorCode[] = [
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'RESOURCE_EXHAUSTED',
  'UNIMPLEMENTED',
];
const MAX_MESSAGE = 16 * 1024;

/**
 * The entrypoint's per-request errors in the version's logs (source ENTRYPOINT, node
 * `entrypoint`, with the request id), where the team reads the nodes' lines: one record per
 * failed call, on `<KRT_NATS_OBS_PREFIX>.logs` (the version's identity may publish there). Core
 * NATS, fire and forget: answering the client never waits for it.
 */
export class RequestErrorsService {
  private readonly logger = new WorkloadLogger(RequestErrorsService.name);
  private readonly origin;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subject: string,
    origin: { runtimeId: string; version: string },
  ) {
    this.origin = {
      ...origin,
      workflow: '',
      node: 'entrypoint',
      replica: `${hostname()}-${process.pid}`,
    };
  }

  /** Records that the call of `rpc` failed; never throws. */
  failed(rpc: string, error: unknown, requestId?: string): void {
    if (this.nc.isClosed()) return;
    const code: RpcErrorCode = error instanceof RpcError ? error.code : 'INTERNAL';
    const text = error instanceof Error ? error.message : String(error);
    const id = (error instanceof RpcError ? error.requestId : undefined) ?? requestId;
    try {
      const message = `${rpc} failed (${code}): ${text}`;
      this.nc.publish(
        this.subject,
        encodeRecord('logs', {
          id: newRecordId(),
          time: new Date(),
          origin: this.origin,
          level: CLIENT_CODES.includes(code) ? 'WARN' : 'ERROR',
          message:
            message.length > MAX_MESSAGE
              ? `${message.slice(0, MAX_MESSAGE)}… (truncated)`
              : message,
          source: 'ENTRYPOINT',
          ...(id ? { requestId: id } : {}),
          fields: { rpc, code },
        }),
      );
    } catch (e) {
      this.logger.warn(
        `request error record dropped: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }
}
