import type { IncomingHttpHeaders } from 'node:http';
import { NOOP_SPAN, type TracedSpan, tracing } from '@libs/observability';

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
/** gRPC statuses that are the server's fault: UNKNOWN, DEADLINE_EXCEEDED, INTERNAL, UNAVAILABLE. */
const GRPC_FAILURES = new Set(['2', '4', '13', '14']);

/**
 * The span of one admitted call through the gateway, a child of the client's `traceparent` (or a
 * new trace); its `headers` replace the client's on the way to the entrypoint. The no-op span
 * when tracing is off.
 */
export function startCallSpan(
  protocol: 'http' | 'grpc',
  headers: IncomingHttpHeaders,
  runtimeId: string,
  version: string,
  rpc: string,
): TracedSpan {
  const t = tracing();
  if (!t.enabled) return NOOP_SPAN;
  return t.start(`gateway ${rpc}`, {
    kind: 'server',
    from: { traceparent: first(headers.traceparent), tracestate: first(headers.tracestate) },
    attributes: {
      'rpc.system': protocol === 'grpc' ? 'grpc' : 'http',
      'kre.runtime': runtimeId,
      'kre.version': version,
    },
  });
}

/** Ends a call's span with its answer code (HTTP status or gRPC status number). */
export function endCallSpan(span: TracedSpan, protocol: 'http' | 'grpc', code: string): void {
  if (span === NOOP_SPAN) return;
  span.setAttribute(
    protocol === 'http' ? 'http.response.status_code' : 'rpc.grpc.status_code',
    Number(code),
  );
  if (protocol === 'http' ? Number(code) >= 500 : GRPC_FAILURES.has(code))
    span.fail(`${protocol} status ${code}`);
  span.end();
}
