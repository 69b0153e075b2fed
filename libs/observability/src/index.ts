export { startHttpApp, type AppBootstrapEnv } from './bootstrap.js';
export { closeWithin, listenOn } from './server-lifecycle.js';
export { HealthModule, type DependencyCheck } from './health.module.js';
export {
  MetricsController,
  MetricsServer,
  createMetricsRegistry,
  type MetricsListen,
} from './metrics.js';
export { createLogger } from './logger.js';
export { IdleMemoryTrimmer } from './idle-memory.js';
export {
  OBS_KINDS,
  dayCollection,
  dayCollectionsBetween,
  isExpiredDay,
  parseDayCollection,
  startOfDay,
  type ObsKind,
} from './obs-days.js';
export {
  OBS_RETENTION_DEFAULT_DAYS,
  OBS_RETENTION_MAX_DAYS,
  OBS_RETENTION_MIN_DAYS,
  ObsRetentionStore,
  type ObsRetentionDoc,
} from './obs-retention.js';
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
  type RelayPublish,
  OtlpJsonReceiver,
  type ReceivedSpan,
  type OtlpResourceSpans,
  type OtlpTraceExport,
  DEFAULT_TRACE_RELAY_LIMITS,
  RUNTIME_ATTRIBUTE,
  relayedTraceBatch,
  type TraceRelayLimits,
  type TraceRelayRefusal,
  type TraceRelayResult,
} from './tracing/index.js';
