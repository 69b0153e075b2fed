import { randomUUID } from 'node:crypto';
import { WorkloadLogger } from '@libs/observability/workload';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import {
  type Msg,
  type NatsConnection,
  type Subscription,
  headers as natsHeaders,
} from '@nats-io/transport-node';
import {
  type AnyMessage,
  JetStreamPublisher,
  KreHeader,
  type KreMessage,
  MessageType,
  PayloadTooLargeError,
  compressToFit,
  decodeEnvelope,
  decompressIfNeeded,
  encodeEnvelope,
  payloadLimit,
} from '@libs/messaging/workload';
import { RpcError } from '@libs/messaging/workload';

/** Where one rpc's requests go (KRT_ENTRYPOINT_ROUTES). */
export interface WorkflowRoute {
  workflow: string;
  stream: string;
  subject: string;
}

/** The first answer for a request: OK from the exitpoint, EARLY_REPLY or EARLY_EXIT. */
export interface WorkflowAnswer {
  requestId: string;
  messageType: MessageType;
  fromNode: string;
  payload?: AnyMessage;
}

interface Pending {
  resolve(answer: WorkflowAnswer): void;
  reject(error: RpcError): void;
  timer: NodeJS.Timeout;
  workflow: string;
}

interface MaxDeliveriesAdvisory {
  stream: string;
  consumer: string;
  stream_seq: number;
  deliveries: number;
}

/**
 * Sends requests into workflows and waits for their answers. One reply subject per entrypoint
 * replica (`kre-reply-to`); the first message for a request id wins and later ones are
 * discarded. A request whose message ran out of deliveries in some node (its replicas died or
 * stalled each time) fails at once with an ERROR, read from the JetStream advisory.
 */
export class WorkflowClient {
  private readonly logger = new WorkloadLogger(WorkflowClient.name);
  private readonly publisher: JetStreamPublisher;
  private jsm?: Promise<JetStreamManager>;
  private readonly pending = new Map<string, Pending>();
  private readonly subscriptions: Subscription[] = [];
  private readonly limit: number;
  /** Answers that arrived after the first one (or after the timeout). */
  discarded = 0;

  constructor(
    private readonly nc: NatsConnection,
    readonly replySubject: string,
    private readonly routes: Readonly<Record<string, WorkflowRoute>>,
  ) {
    this.publisher = new JetStreamPublisher(nc);
    this.limit = payloadLimit(nc.info?.max_payload ?? 1024 * 1024);
  }

  /** Subscribes to the reply subject and to the streams' max-deliveries advisories. */
  start(): void {
    this.subscriptions.push(
      this.nc.subscribe(this.replySubject, {
        callback: (error, msg) => {
          if (!error) this.onReply(msg);
        },
      }),
    );
    for (const stream of new Set(Object.values(this.routes).map((r) => r.stream)))
      this.subscriptions.push(
        this.nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.*`, {
          callback: (error, msg) => {
            if (!error) void this.onMaxDeliveries(msg);
          },
        }),
      );
  }

  /** Requests waiting for an answer. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Publishes a request (the rpc's request message, encoded) into the rpc's workflow and resolves
   * with the first answer.
   * @throws RpcError NOT_FOUND (unknown rpc), RESOURCE_EXHAUSTED (too large), UNAVAILABLE (the
   * workflow's stream does not take it), INTERNAL (a node failed), DEADLINE_EXCEEDED.
   */
  async call(
    rpc: string,
    request: AnyMessage,
    options: { timeoutMs: number; requestId?: string; traceparent?: string; tracestate?: string },
  ): Promise<WorkflowAnswer> {
    const route = this.routes[rpc];
    const requestId = options.requestId ?? randomUUID();
    if (!route)
      throw new RpcError(
        'NOT_FOUND',
        `rpc "${rpc}" is not routed to a workflow (KRT_ENTRYPOINT_ROUTES)`,
        requestId,
      );
    let data: Uint8Array;
    try {
      data = compressToFit(
        encodeEnvelope({
          requestId,
          fromNode: 'entrypoint',
          messageType: MessageType.OK,
          payload: request,
        }),
        this.limit,
        'the request',
      );
    } catch (error) {
      if (error instanceof PayloadTooLargeError)
        throw new RpcError('RESOURCE_EXHAUSTED', error.message, requestId);
      throw error;
    }
    const deadline = Date.now() + options.timeoutMs;
    const h = natsHeaders();
    h.set(KreHeader.replyTo, this.replySubject);
    h.set(KreHeader.requestId, requestId);
    h.set(KreHeader.deadline, String(deadline));
    if (options.traceparent) h.set(KreHeader.traceparent, options.traceparent);
    if (options.tracestate) h.set(KreHeader.tracestate, options.tracestate);

    const answer = new Promise<WorkflowAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(
          new RpcError(
            'DEADLINE_EXCEEDED',
            `no answer from workflow "${route.workflow}" within ${options.timeoutMs / 1000} s`,
            requestId,
          ),
        );
      }, options.timeoutMs);
      this.pending.set(requestId, { resolve, reject, timer, workflow: route.workflow });
    });
    try {
      await this.publisher.publish(route.subject, data, {
        headers: h,
        timeoutMs: Math.max(1, Math.min(5_000, deadline - Date.now())),
      });
    } catch (error) {
      this.settle(requestId);
      void answer.catch(() => undefined);
      throw new RpcError(
        'UNAVAILABLE',
        `cannot send the request into workflow "${route.workflow}" (stream ${route.stream}): ${error instanceof Error ? error.message : String(error)}`,
        requestId,
      );
    }
    return answer;
  }

  private settle(requestId: string): Pending | undefined {
    const pending = this.pending.get(requestId);
    if (!pending) return undefined;
    this.pending.delete(requestId);
    clearTimeout(pending.timer);
    return pending;
  }

  private onReply(msg: Msg): void {
    const headerId = msg.headers?.get(KreHeader.requestId) || undefined;
    if (headerId && !this.pending.has(headerId)) {
      this.discarded++;
      return;
    }
    let envelope: KreMessage;
    try {
      envelope = decodeEnvelope(decompressIfNeeded(msg.data));
    } catch (error) {
      const pending = headerId ? this.settle(headerId) : undefined;
      const text = `invalid answer for request ${headerId ?? '(unknown)'}: ${error instanceof Error ? error.message : String(error)}`;
      this.logger.warn(text);
      pending?.reject(new RpcError('INTERNAL', text, headerId));
      return;
    }
    const pending = this.settle(envelope.requestId);
    if (!pending) {
      this.discarded++;
      return;
    }
    if (envelope.messageType === MessageType.ERROR) {
      pending.reject(
        new RpcError('INTERNAL', envelope.error ?? 'a node failed', envelope.requestId),
      );
      return;
    }
    pending.resolve({
      requestId: envelope.requestId,
      messageType: envelope.messageType,
      fromNode: envelope.fromNode,
      ...(envelope.payload ? { payload: envelope.payload } : {}),
    });
  }

  private async onMaxDeliveries(msg: Msg): Promise<void> {
    if (this.pending.size === 0) return;
    let advisory: MaxDeliveriesAdvisory;
    try {
      advisory = msg.json<MaxDeliveriesAdvisory>();
    } catch {
      return;
    }
    try {
      this.jsm ??= jetstreamManager(this.nc, { checkAPI: false });
      const jsm = await this.jsm;
      const stored = await jsm.streams.getMessage(advisory.stream, { seq: advisory.stream_seq });
      if (!stored) return;
      const requestId = stored.header?.get(KreHeader.requestId);
      if (stored.header?.get(KreHeader.replyTo) !== this.replySubject || !requestId) return;
      const pending = this.settle(requestId);
      if (!pending) return;
      const node = advisory.consumer.split('_')[0];
      pending.reject(
        new RpcError(
          'INTERNAL',
          `node "${node}" could not handle the request: its message was delivered ${advisory.deliveries} times without an answer (the node's replicas died or stalled each time)`,
          requestId,
        ),
      );
      // The request has failed: nothing further flows for it.
      await jsm.streams
        .deleteMessage(advisory.stream, advisory.stream_seq, false)
        .catch(() => false);
    } catch (error) {
      this.logger.warn(
        `max-deliveries advisory of ${advisory.stream}/${advisory.consumer}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  /** Stops listening; waiting requests fail as UNAVAILABLE. */
  stop(): void {
    for (const sub of this.subscriptions) sub.unsubscribe();
    this.publisher.close();
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new RpcError('UNAVAILABLE', 'the entrypoint is shutting down', id));
    }
    this.pending.clear();
  }
}
