import { z } from 'zod';

/** Names of runtimes, versions and prefixes: a DNS-label-like slug with no `--`. */
export const SLUG = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/**
 * A variable holding JSON, checked against `schema` (errors name the variable and the path);
 * `fallback`: its value when unset (else it is required).
 */
export function jsonEnv<T extends z.ZodType>(schema: T, fallback?: unknown) {
  const text = z.string({ error: 'is required' });
  return (fallback === undefined ? text : text.default(JSON.stringify(fallback)))
    .transform((raw, ctx) => {
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

const url = (protocols: readonly string[]) =>
  z
    .string({ error: 'is required' })
    .trim()
    .refine(
      (value) => {
        try {
          return protocols.includes(new URL(value).protocol.replace(/:$/, ''));
        } catch {
          return false;
        }
      },
      { error: `must be a URL with scheme ${protocols.map((p) => `${p}://`).join(' or ')}` },
    );

const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === '' ? undefined : value), schema.optional());

const port = (fallback: number) => z.coerce.number().int().min(0).max(65_535).default(fallback);

/** Env shared by every app. */
export const baseEnv = {
  /**
   * Production unless said otherwise: development logs live sign-in links, relaxes cookies and
   * serves GraphiQL, so only `scripts/start` (through `.env`) and the tests choose another mode.
   */
  NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'log', 'debug', 'verbose']).default('log'),
  LOG_FORMAT: z.enum(['json', 'text']).default('text'),
  KRE_PREFIX: z
    .string()
    .max(12, { error: 'must be at most 12 characters (it prefixes every name KRE creates)' })
    .regex(SLUG, {
      error: 'must be lowercase letters, digits and single dashes, starting with a letter',
    })
    .refine((v) => !v.includes('--'), { error: 'must not contain "--"' })
    .default('kre'),
  ...tracingEnvFragment(),
};

/**
 * OpenTelemetry traces (libs/observability `initTracing`): exported over OTLP/HTTP when an
 * endpoint is set, otherwise no tracer provider is registered at all. The standard names.
 */
function tracingEnvFragment() {
  return {
    /** Base URL of an OTLP/HTTP receiver; traces go to `<it>/v1/traces`. */
    OTEL_EXPORTER_OTLP_ENDPOINT: optional(url(['http', 'https'])),
    /** The traces URL itself, over the base one. */
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optional(url(['http', 'https'])),
    /** `service.name` of the spans (default: the app's name, e.g. `gateway`). */
    OTEL_SERVICE_NAME: optional(z.string().min(1)),
    /** Milliseconds between two exports of the finished spans. */
    OTEL_BSP_SCHEDULE_DELAY: z.coerce.number().int().min(1).max(600_000).default(5_000),
  };
}

export const mongoEnv = { MONGO_URL: url(['mongodb', 'mongodb+srv']) };
export const redisEnv = { REDIS_URL: url(['redis', 'rediss']) };
export const natsEnv = {
  NATS_URL: url(['nats', 'tls']),
  /** The app's own NATS identity (a `.creds` file): NATS refuses anonymous connections. */
  NATS_CREDS: z
    .string({ error: "is required (the path of this app's NATS .creds file)" })
    .min(1, { error: "is required (the path of this app's NATS .creds file)" }),
};
export const smtpEnv = {
  SMTP_URL: url(['smtp', 'smtps']),
  SMTP_FROM: z.string().email({ error: 'must be an email address' }).default('kre@kre.local'),
};
export const ports = { port };

/** AES-256-GCM key of version config values at rest (admin-api encrypts, the deployer decrypts). */
export const configKeyEnv = {
  CONFIG_ENCRYPTION_KEY: z
    .string({ error: 'is required (32 random bytes, base64: `openssl rand -base64 32`)' })
    .refine((v) => Buffer.from(v, 'base64').length === 32, {
      error: 'must be 32 bytes, base64-encoded (`openssl rand -base64 32`)',
    }),
};
export { url as urlEnv };
