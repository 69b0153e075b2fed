import { CliError, EXIT } from './exit-codes.js';

/** Parses `--timeout` (seconds, or with an s/m suffix) into milliseconds. */
export function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m)?$/.exec(value.trim());
  if (!match) {
    throw new CliError(
      `"${value}" is not a duration: give seconds (90) or minutes (5m)`,
      EXIT.usage,
    );
  }
  return Number(match[1]) * (match[2] === 'm' ? 60_000 : 1_000);
}

/**
 * Calls `check` until it returns a value, every `intervalMs`, for at most `timeoutMs`; then fails
 * with the timeout exit code, saying what it waited for.
 */
export async function poll<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) {
      throw new CliError(
        `gave up waiting for ${what} after ${Math.round(timeoutMs / 1000)}s (--timeout)`,
        EXIT.timeout,
      );
    }
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))),
    );
  }
}
