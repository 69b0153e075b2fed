import { ConsoleLogger, type LogLevel } from '@nestjs/common';

const LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/**
 * The app logger: JSON lines in production, readable text in development. Fields go in a plain
 * object after the message (`logger.log('started', { runtimeId, versionName, jobId })`): JSON
 * lines carry them as top-level fields, text appends them.
 */
export function createLogger(
  app: string,
  env: { LOG_LEVEL: LogLevel; LOG_FORMAT: 'json' | 'text' },
): ConsoleLogger {
  const upTo = LEVELS.indexOf(env.LOG_LEVEL);
  return new ConsoleLogger(app, {
    json: env.LOG_FORMAT === 'json',
    colors: env.LOG_FORMAT === 'text' && process.stdout.isTTY,
    logLevels: LEVELS.slice(0, upTo + 1),
    timestamp: true,
    structuredParams: true,
    flattenParams: true,
  });
}
