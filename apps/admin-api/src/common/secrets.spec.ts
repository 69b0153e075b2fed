import { describe, expect, it } from 'vitest';
import {
  API_TOKEN_PATTERN,
  RANDOM_SECRET_PATTERN,
  isWellFormedApiToken,
  newApiToken,
  randomSecret,
  sha256Hex,
} from './secrets.js';

// Reliability rows A2 (token strength and storage) and T1 (token format and checksum).
describe('secrets', () => {
  it('A2: sign-in tokens are 256-bit base64url, all distinct over 10k, hashed to 64 hex', () => {
    const tokens = Array.from({ length: 10_000 }, randomSecret);
    expect(new Set(tokens).size).toBe(10_000);
    for (const token of tokens) expect(token).toMatch(RANDOM_SECRET_PATTERN);
    expect(Buffer.from(tokens[0], 'base64url')).toHaveLength(32);
    expect(sha256Hex(tokens[0])).toMatch(/^[0-9a-f]{64}$/);
  });

  it('T1: API tokens carry a prefix and a checksum; the scanner regex finds real ones only', () => {
    const tokens = Array.from({ length: 1_000 }, newApiToken);
    expect(new Set(tokens).size).toBe(1_000);
    for (const token of tokens) {
      expect(token).toMatch(/^kre_[0-9A-Za-z]{38}$/);
      expect(isWellFormedApiToken(token)).toBe(true);
    }
    const fixture = `config:\n  token: ${tokens[0]}\n  other: kre_notatoken\n  uuid: 123e4567-e89b\n${tokens[1]}`;
    expect(fixture.match(API_TOKEN_PATTERN)).toEqual([tokens[0], tokens[1]]);
  });

  it('T1: changing any one character of a token breaks its checksum', () => {
    const token = newApiToken();
    for (let i = 4; i < token.length; i++) {
      const replacement = token[i] === 'a' ? 'b' : 'a';
      const mutated = token.slice(0, i) + replacement + token.slice(i + 1);
      expect(isWellFormedApiToken(mutated), `position ${i}`).toBe(false);
    }
    expect(isWellFormedApiToken(`kro_${token.slice(4)}`)).toBe(false);
    expect(isWellFormedApiToken(token.slice(0, -1))).toBe(false);
    expect(isWellFormedApiToken('')).toBe(false);
  });
});
