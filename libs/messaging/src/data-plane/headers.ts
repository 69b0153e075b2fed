/**
 * NATS headers of the data plane (docs/data-plane.md). Every runner copies the request's
 * headers onto everything it publishes for that request.
 */
export const KreHeader = {
  /** The entrypoint replica's reply subject. */
  replyTo: 'kre-reply-to',
  /** The request id (also in the envelope's `request_id`). */
  requestId: 'kre-request-id',
  /** When the entrypoint stops waiting, epoch milliseconds: later work is skipped. */
  deadline: 'kre-deadline',
  /** W3C trace context, copied unchanged. */
  traceparent: 'traceparent',
  tracestate: 'tracestate',
} as const;

/** Headers a runner copies from the message it handles onto what it publishes. */
export const PROPAGATED_HEADERS: readonly string[] = [
  KreHeader.replyTo,
  KreHeader.requestId,
  KreHeader.deadline,
  KreHeader.traceparent,
  KreHeader.tracestate,
];
