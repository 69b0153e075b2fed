import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SessionSeal, newUserCode, normalizeUserCode } from './cli-login.codes.js';

describe('kre login user codes', () => {
  it('are two groups of four consonants, and read back however they are typed', () => {
    const codes = new Set(Array.from({ length: 200 }, () => newUserCode()));
    for (const code of codes)
      expect(code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(codes.size).toBeGreaterThan(190);
    expect(normalizeUserCode(' bcdf ghjk ')).toBe('BCDF-GHJK');
    expect(normalizeUserCode('BCDFGHJK')).toBe('BCDF-GHJK');
    expect(normalizeUserCode('BCDF-GHJ')).toBe('');
    expect(normalizeUserCode('')).toBe('');
  });
});

describe('SessionSeal', () => {
  const key = randomBytes(32).toString('base64');

  it('opens what it sealed for the same grant only, and never holds the plain text', () => {
    const seal = new SessionSeal(key);
    const sealed = seal.seal('the-session-id', 'grant-a');
    expect(sealed).not.toContain('the-session-id');
    expect(Buffer.from(sealed, 'base64').toString('utf8')).not.toContain('the-session-id');
    expect(seal.open(sealed, 'grant-a')).toBe('the-session-id');
    expect(() => seal.open(sealed, 'grant-b')).toThrow();
    expect(() =>
      new SessionSeal(randomBytes(32).toString('base64')).open(sealed, 'grant-a'),
    ).toThrow();
  });
});
