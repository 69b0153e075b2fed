export {
  NOOP_SPAN,
  initTracing,
  tracesUrl,
  tracing,
  type StartSpanOptions,
  type TraceHeaders,
  type TraceSpanKind,
  type TracedSpan,
  type Tracing,
  type TracingEnv,
} from './tracing.js';
export { OtlpJsonReceiver, type ReceivedSpan } from './otlp-receiver.js';
