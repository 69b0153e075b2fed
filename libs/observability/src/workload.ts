/**
 * `@libs/observability/workload`: what a workload (runner, entrypoint) loads of this library:
 * tracing, its probes and its logger, without Nest (issue #16, density: Nest and prom-client
 * are about 40 MB of each workload process). Engine apps use `@libs/observability`.
 */
export {
  NOOP_SPAN,
  initTracing,
  tracing,
  type TraceHeaders,
  type TracedSpan,
} from './tracing/tracing.js';
export { closeWithin, listenOn } from './server-lifecycle.js';
export type { DependencyCheck } from './dependency-probe.js';
export { createHttpServer } from './node-http.js';
export { IdleMemoryTrimmer } from './idle-memory.js';
export { ProbeServer, type ProbeReport } from './probe.server.js';
export { WorkloadLogger, configureWorkloadLogs, type WorkloadLogLevel } from './workload-logger.js';
