import { type z } from 'zod';

/** Thrown when an app's environment does not match its schema; the message lists every problem. */
export class InvalidEnvError extends Error {
  constructor(
    readonly app: string,
    readonly problems: readonly string[],
  ) {
    super(`${app}: invalid environment (see .env.example):\n  ${problems.join('\n  ')}`);
    this.name = 'InvalidEnvError';
  }
}

/**
 * Parses `source` (by default the process environment) with an app's zod schema.
 * @throws InvalidEnvError listing every variable that is missing or wrong, at once.
 */
export function loadEnv<S extends z.ZodType>(
  app: string,
  schema: S,
  source: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const result = schema.safeParse(source);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = issue.path.map(String).join('.') || '(environment)';
    return `${key}: ${issue.message}`;
  });
  throw new InvalidEnvError(app, problems);
}

/** Like {@link loadEnv}, but prints the problems and exits the process (status 78, EX_CONFIG). */
export function loadEnvOrExit<S extends z.ZodType>(
  app: string,
  schema: S,
  source: Record<string, string | undefined> = process.env,
): z.infer<S> {
  try {
    return loadEnv(app, schema, source);
  } catch (error) {
    if (!(error instanceof InvalidEnvError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(78);
  }
}
