import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * Secrets KRE hands out (sign-in links, session ids, API tokens). They are high-entropy, so a
 * plain SHA-256 is the right hash at rest (no slow KDF needed) and it can be looked up as `_id`.
 */

/** SHA-256 of a secret, as 64 lowercase hex characters: what the database holds. */
export function sha256Hex(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** 256 random bits from the CSPRNG, base64url (43 characters). */
export function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Shape of a sign-in token or session id (checked before any lookup). */
export const RANDOM_SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const API_TOKEN_PREFIX = 'kre_';
const API_TOKEN_BODY = 32; // 32 base62 characters: 190 random bits
const API_TOKEN_CHECKSUM = 6; // CRC32 in base62 (62^6 > 2^32)

/**
 * What a secret scanner should look for: `kre_`, 32 random base62 characters, then a 6-character
 * base62 CRC32 of those (so a leaked token is recognisable offline, and a typo is refused
 * without a database lookup).
 */
export const API_TOKEN_PATTERN = /\bkre_[0-9A-Za-z]{38}\b/g;

function base62(n: number, width: number): string {
  let out = '';
  for (let i = 0; i < width; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

/** `length` CSPRNG characters of base62, each equally likely. */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 248 = 4 × 62: bytes above it are dropped so every character is equally likely.
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

function checksum(body: string): string {
  return base62(crc32(body), API_TOKEN_CHECKSUM);
}

/** A new API token: `kre_` + 32 random base62 characters + their 6-character checksum. */
export function newApiToken(): string {
  const body = randomBase62(API_TOKEN_BODY);
  return `${API_TOKEN_PREFIX}${body}${checksum(body)}`;
}

/** True when `token` has the API token format and its checksum matches (no I/O). */
export function isWellFormedApiToken(token: string): boolean {
  if (token.length !== API_TOKEN_PREFIX.length + API_TOKEN_BODY + API_TOKEN_CHECKSUM) return false;
  if (!token.startsWith(API_TOKEN_PREFIX)) return false;
  const body = token.slice(API_TOKEN_PREFIX.length, API_TOKEN_PREFIX.length + API_TOKEN_BODY);
  const sum = token.slice(API_TOKEN_PREFIX.length + API_TOKEN_BODY);
  return /^[0-9A-Za-z]+$/.test(body) && checksum(body) === sum;
}
