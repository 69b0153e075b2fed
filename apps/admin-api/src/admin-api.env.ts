import { baseEnv, mongoEnv, natsEnv, ports, redisEnv, smtpEnv, urlEnv } from '@libs/config';
import { z } from 'zod';

export const adminApiEnvSchema = z.object({
  ...baseEnv,
  ...mongoEnv,
  ...redisEnv,
  ...natsEnv,
  ...smtpEnv,
  ADMIN_API_HOST: z.string().default('127.0.0.1'),
  ADMIN_API_PORT: ports.port(8080),
  /** Where sign-in links point (the portal, or admin-api's own /signin page). */
  FRONTEND_URL: urlEnv(['http', 'https']).default('http://127.0.0.1:8080'),
  /** The first platform admin, created or promoted at start-up. */
  ADMIN_EMAIL: z.string().email({ error: 'must be an email address' }).default('admin@kre.local'),
});

export type AdminApiEnv = z.infer<typeof adminApiEnvSchema>;
/** Injection token of the parsed environment. */
export const ADMIN_API_ENV = Symbol('AdminApiEnv');
