import { inspect } from 'node:util';

/** The levels, most severe first (the same names as the engine apps' `LOG_LEVEL`). */
const LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
export type WorkloadLogLevel = (typeof LEVELS)[number];

interface Sink {
  app: string;
  format: 'json' | 'text';
  upTo: number;
}

/** Until `configureWorkloadLogs` runs (tests, tools): text, up to `log`. */
let sink: Sink = { app: 'workload', format: 'text', upTo: LEVELS.indexOf('log') };

/**
 * How workloads' own lines are written, set once at start from their env (`LOG_LEVEL`,
 * `LOG_FORMAT`). Workloads do not load Nest (about 30 MB of memory each, issue #16), so this is
 * their logger; its lines look like the engine apps' (JSON: `level`, `pid`, `timestamp`,
 * `message`, `context` and the fields; text: one readable line).
 */
export function configureWorkloadLogs(
  app: string,
  env: { LOG_LEVEL: WorkloadLogLevel; LOG_FORMAT: 'json' | 'text' },
): void {
  sink = { app, format: env.LOG_FORMAT, upTo: LEVELS.indexOf(env.LOG_LEVEL) };
}

/** A workload's logger for one context (`new WorkloadLogger('Runner').warn('…')`). */
export class WorkloadLogger {
  constructor(private readonly context: string) {}

  fatal(message: string, fields?: Record<string, unknown>): void {
    this.write('fatal', message, fields);
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.write('error', message, fields);
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.write('warn', message, fields);
  }
  log(message: string, fields?: Record<string, unknown>): void {
    this.write('log', message, fields);
  }
  debug(message: string, fields?: Record<string, unknown>): void {
    this.write('debug', message, fields);
  }

  private write(level: WorkloadLogLevel, message: string, fields?: Record<string, unknown>): void {
    if (LEVELS.indexOf(level) > sink.upTo) return;
    const out = level === 'fatal' || level === 'error' ? process.stderr : process.stdout;
    if (sink.format === 'json') {
      out.write(
        `${JSON.stringify({ ...fields, level, pid: process.pid, timestamp: Date.now(), message, context: this.context })}\n`,
      );
      return;
    }
    const extra =
      fields && Object.keys(fields).length ? ` ${inspect(fields, { breakLength: Infinity })}` : '';
    out.write(
      `[${sink.app}] ${process.pid}  - ${new Date().toISOString()} ${level.toUpperCase().padStart(7)} [${this.context}] ${message}${extra}\n`,
    );
  }
}
