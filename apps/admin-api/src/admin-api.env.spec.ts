import { loadEnv } from '@libs/config';
import { describe, expect, it } from 'vitest';
import { adminApiEnvSchema, authConfig } from './admin-api.env.js';

const required = {
  MONGO_URL: 'mongodb://127.0.0.1:27017',
  REDIS_URL: 'redis://127.0.0.1:6379',
  NATS_URL: 'nats://127.0.0.1:4222',
  NATS_CREDS: '/run/kre/app.creds',
  SMTP_URL: 'smtp://127.0.0.1:1025',
  CONFIG_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
};

describe('admin-api environment', () => {
  it('has safe defaults: Secure __Host- cookie outside development, limits, origins', () => {
    const env = loadEnv('admin-api', adminApiEnvSchema, { ...required, NODE_ENV: 'production' });
    expect(env.THROTTLE_SIGNIN_PER_EMAIL).toEqual({ limit: 5, ttlMs: 3_600_000 });
    expect(env.THROTTLE_SIGNIN_PER_EMAIL_ALL_CLIENTS).toEqual({ limit: 30, ttlMs: 3_600_000 });
    expect(env.THROTTLE_VERIFY_PER_IP).toEqual({ limit: 10, ttlMs: 60_000 });
    expect(env.TOKEN_MINT_MAX_SESSION_AGE_MINUTES).toBe(15);
    expect(authConfig(env)).toEqual({
      cookieName: '__Host-kre_session',
      cookieSecure: true,
      frontendUrl: 'http://127.0.0.1:8080',
      frontendOrigins: ['http://127.0.0.1:8080'],
      devLinksInLog: false,
    });
    // A bare start (no NODE_ENV) is production: no sign-in links in the log, Secure cookie.
    expect(authConfig(loadEnv('admin-api', adminApiEnvSchema, required))).toEqual(authConfig(env));
    const dev = loadEnv('admin-api', adminApiEnvSchema, { ...required, NODE_ENV: 'development' });
    expect(authConfig(dev)).toMatchObject({
      cookieName: 'kre_session',
      cookieSecure: false,
      devLinksInLog: true,
    });
  });

  it('says what is wrong with each variable', () => {
    expect(() =>
      loadEnv('admin-api', adminApiEnvSchema, {
        ...required,
        THROTTLE_SIGNIN_PER_IP: 'lots',
        FRONTEND_ORIGINS: 'https://portal.example, not an origin, https://x.example/path',
        SIGNIN_LINK_TTL_MINUTES: '30',
        SESSION_COOKIE_NAME: '__Host-session',
      }),
    ).toThrow(
      [
        'FRONTEND_ORIGINS: "not an origin" is not an origin (scheme://host[:port])',
        'FRONTEND_ORIGINS: "https://x.example/path" is not an origin (scheme://host[:port])',
        'SIGNIN_LINK_TTL_MINUTES: Too big: expected number to be <=10',
        'THROTTLE_SIGNIN_PER_IP: must be <count>/<window>, e.g. 5/1h, 10/1m',
      ].join('\n  '),
    );
    expect(() =>
      loadEnv('admin-api', adminApiEnvSchema, {
        ...required,
        NODE_ENV: 'development',
        SESSION_COOKIE_NAME: '__Host-s',
      }),
    ).toThrow('SESSION_COOKIE_NAME: a __Host- cookie must be Secure');
  });

  it('reads a list of frontend origins', () => {
    const env = loadEnv('admin-api', adminApiEnvSchema, {
      ...required,
      FRONTEND_ORIGINS: 'https://portal.example, http://localhost:5173/',
    });
    expect(authConfig(env).frontendOrigins).toEqual([
      'https://portal.example',
      'http://localhost:5173',
    ]);
  });
});
