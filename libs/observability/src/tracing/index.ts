export {
  NOOP_SPAN,
  initTracing,
  tracesUrl,
  tracing,
  type RelayPublish,
  type StartSpanOptions,
  type TraceHeaders,
  type TraceSpanKind,
  type TracedSpan,
  type Tracing,
  type TracingEnv,
} from './tracing.js';
export { OtlpJsonReceiver, type ReceivedSpan } from './otlp-receiver.js';
export type { OtlpResourceSpans, OtlpTraceExport } from './otlp-json.js';
export {
  DEFAULT_TRACE_RELAY_LIMITS,
  RUNTIME_ATTRIBUTE,
  relayedTraceBatch,
  type TraceRelayLimits,
  type TraceRelayRefusal,
  type TraceRelayResult,
} from './trace-relay.js';
