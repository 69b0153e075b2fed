import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import type { ServiceUrls } from './services.js';

/** A fresh installation prefix, so test files sharing one server never see each other's names. */
export function testPrefix(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

/** The backing services' URLs plus a unique `KRE_PREFIX` for this test file. */
export function testEnv(
  overrides: Record<string, string> = {},
): ServiceUrls & { KRE_PREFIX: string } & Record<string, string> {
  return {
    ...inject('services'),
    KRE_PREFIX: testPrefix(),
    NODE_ENV: 'test',
    // A fresh key per test file: config values sealed in one file mean nothing in another.
    CONFIG_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    ...overrides,
  };
}
