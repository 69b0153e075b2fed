import {
  baseEnv,
  configKeyEnv,
  mongoEnv,
  natsEnv,
  ports,
  redisEnv,
  runtimeQuotaEnv,
  smtpEnv,
  urlEnv,
} from '@libs/config';
import {
  OBS_RETENTION_DEFAULT_DAYS,
  OBS_RETENTION_MAX_DAYS,
  OBS_RETENTION_MIN_DAYS,
} from '@libs/observability';
import { z } from 'zod';

const UNITS = { s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** A rate limit written `<count>/<window>`, e.g. `5/1h`, `10/1m`, `100/30s`. */
const rateLimit = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((raw, ctx) => {
      const match = /^\s*(\d+)\s*\/\s*(\d+)\s*([smh])\s*$/.exec(raw);
      if (!match || Number(match[1]) < 1 || Number(match[2]) < 1) {
        ctx.addIssue({ code: 'custom', message: 'must be <count>/<window>, e.g. 5/1h, 10/1m' });
        return z.NEVER;
      }
      return {
        limit: Number(match[1]),
        ttlMs: Number(match[2]) * UNITS[match[3] as 's' | 'm' | 'h'],
      };
    });

const int = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

/** Cookie names are RFC 6265 tokens. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export const adminApiEnvSchema = z
  .object({
    ...baseEnv,
    ...mongoEnv,
    ...redisEnv,
    ...natsEnv,
    ...smtpEnv,
    ADMIN_API_HOST: z.string().default('127.0.0.1'),
    ADMIN_API_PORT: ports.port(8080),
    /**
     * Serve `/metrics` on this port of its own (on ADMIN_API_HOST) instead of the API's
     * port, which is public behind an Ingress; the Helm chart sets it. Unset: on the API's port.
     */
    ADMIN_API_METRICS_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
    /** Where sign-in links point: the admin portal (admin-api serves it, /signin included). */
    FRONTEND_URL: urlEnv(['http', 'https']).default('http://127.0.0.1:8080'),
    /**
     * Browser origins allowed to call the API with credentials (CORS) and to open the GraphQL
     * WebSocket; comma-separated. Default: the origin of FRONTEND_URL.
     */
    FRONTEND_ORIGINS: z
      .string()
      .optional()
      .transform((raw, ctx) => {
        if (raw === undefined || raw.trim() === '') return undefined;
        const origins: string[] = [];
        for (const item of raw.split(',').map((s) => s.trim())) {
          try {
            const url = new URL(item);
            if (url.origin === 'null' || url.origin !== item.replace(/\/$/, '')) throw new Error();
            origins.push(url.origin);
          } catch {
            ctx.addIssue({
              code: 'custom',
              message: `"${item}" is not an origin (scheme://host[:port])`,
            });
          }
        }
        return origins;
      }),
    /** AES-256-GCM key of version config values at rest (shared with the deployer). */
    ...configKeyEnv,
    /** The quota new runtimes get (and runtimes from before quotas have); shared with the deployer. */
    ...runtimeQuotaEnv,
    /** Largest KRT upload (bytes); the upload is streamed to disk, never held in memory. */
    KRT_MAX_UPLOAD_BYTES: z.coerce
      .number()
      .int()
      .min(1_024)
      .default(500 * 1024 * 1024),
    /** Where clients reach the gateway (shown as runtimes' and versions' entrypointAddress). */
    GATEWAY_PUBLIC_HTTP_URL: urlEnv(['http', 'https']).default('http://127.0.0.1:9080'),
    GATEWAY_PUBLIC_GRPC_ADDRESS: z
      .string()
      .regex(/^[^\s:]+:\d{1,5}$/, { error: 'must be host:port' })
      .default('127.0.0.1:9000'),
    /** The first platform admin, created or promoted at start-up. */
    ADMIN_EMAIL: z.string().email({ error: 'must be an email address' }).default('admin@kre.local'),
    /**
     * Name of the session cookie. Default `__Host-kre_session` (Secure; the `__Host-` prefix pins
     * it to this host and path /), `kre_session` in development, where cookies are not Secure.
     */
    SESSION_COOKIE_NAME: z
      .string()
      .regex(COOKIE_NAME, { error: "must be a cookie name (letters, digits, !#$%&'*+-.^_`|~)" })
      .optional(),
    /** Initial settings (the settings document is created with these; then `updateSettings`). */
    SESSION_LIFETIME_DAYS: int(1, 1, 365),
    SESSION_IDLE_MINUTES: int(30, 1, 1_440),
    SIGNIN_LINK_TTL_MINUTES: int(10, 1, 10),
    /** Longest lifetime an API token may be given, in days. */
    API_TOKEN_MAX_DAYS: int(365, 1, 3_650),
    /**
     * Generating an API token needs a session signed in at most this many minutes ago: a stolen
     * or forgotten session cannot turn itself into a long-lived token.
     */
    TOKEN_MINT_MAX_SESSION_AGE_MINUTES: int(15, 1, 1_440),
    /**
     * Rate limits of the sign-in endpoints (Redis-backed, shared by replicas). Link requests are
     * limited per address and client together (so one client cannot lock a person out), per
     * address from all clients (bounds the mail an address gets), and per client.
     */
    THROTTLE_SIGNIN_PER_EMAIL: rateLimit('5/1h'),
    THROTTLE_SIGNIN_PER_EMAIL_ALL_CLIENTS: rateLimit('30/1h'),
    THROTTLE_SIGNIN_PER_IP: rateLimit('20/1h'),
    THROTTLE_VERIFY_PER_IP: rateLimit('10/1m'),
    /** Reverse proxies in front of admin-api whose X-Forwarded-For is trusted (express `trust proxy`). */
    TRUST_PROXY_HOPS: int(0, 0, 10),
    /** GraphQL limits: selection depth, cost (fields, lists count ×10), aliases per operation. */
    GRAPHQL_MAX_DEPTH: int(10, 2, 50),
    GRAPHQL_MAX_COST: int(1_000, 10, 100_000),
    GRAPHQL_MAX_ALIASES: int(15, 0, 1_000),
    /**
     * Days of a runtime's logs, metrics, predictions and measurements kept when its ADMIN has not
     * set its own (`setObservabilityRetention`); mongo-writer drops older day collections. The
     * same value as mongo-writer's.
     */
    OBS_RETENTION_DAYS: int(
      OBS_RETENTION_DEFAULT_DAYS,
      OBS_RETENTION_MIN_DAYS,
      OBS_RETENTION_MAX_DAYS,
    ),
    /**
     * The built admin portal (index.html and assets/) that admin-api serves at / and /signin.
     * Default: dist/admin-ui beside the compiled app (`npm run build` puts it there).
     */
    PORTAL_DIR: z.string().min(1).optional(),
    /** How often open GraphQL WebSockets re-check their session or token (revocation also closes them at once). */
    WS_AUTH_RECHECK_SECONDS: int(30, 1, 3_600),
  })
  .superRefine((env, ctx) => {
    const secure = env.NODE_ENV !== 'development';
    if (env.SESSION_COOKIE_NAME?.startsWith('__Host-') && !secure) {
      ctx.addIssue({
        code: 'custom',
        path: ['SESSION_COOKIE_NAME'],
        message:
          'a __Host- cookie must be Secure, which it is not in development: choose another name',
      });
    }
  });

export type AdminApiEnv = z.infer<typeof adminApiEnvSchema>;
/** Injection token of the parsed environment. */
export const ADMIN_API_ENV = Symbol('AdminApiEnv');

/** Settings derived from the environment, once. */
export interface AuthConfig {
  cookieName: string;
  cookieSecure: boolean;
  frontendUrl: string;
  frontendOrigins: readonly string[];
  devLinksInLog: boolean;
}

export function authConfig(env: AdminApiEnv): AuthConfig {
  const secure = env.NODE_ENV !== 'development';
  return {
    cookieName: env.SESSION_COOKIE_NAME ?? (secure ? '__Host-kre_session' : 'kre_session'),
    cookieSecure: secure,
    frontendUrl: env.FRONTEND_URL.replace(/\/+$/, ''),
    frontendOrigins: env.FRONTEND_ORIGINS ?? [new URL(env.FRONTEND_URL).origin],
    devLinksInLog: env.NODE_ENV === 'development',
  };
}
