import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, randomInt } from 'node:crypto';

/**
 * The user code a CLI shows and the person types on the approval page: 8 letters without vowels
 * (no words, no 0/O or 1/I mix-ups), shown as `BCDF-GHJK`: 20^8 ≈ 2.6·10^10 codes, of which a
 * grant accepts a handful of wrong guesses (RFC 8628, section 6.1).
 */
const ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const LENGTH = 8;

export function newUserCode(): string {
  const letters = Array.from({ length: LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]);
  return `${letters.slice(0, 4).join('')}-${letters.slice(4).join('')}`;
}

/** What a person typed, as a code compares: upper case, letters only (`bcdf ghjk` = `BCDF-GHJK`). */
export function normalizeUserCode(typed: string): string {
  const letters = typed.toUpperCase().replace(/[^A-Z]/g, '');
  return letters.length === LENGTH ? `${letters.slice(0, 4)}-${letters.slice(4)}` : '';
}

/**
 * Seals the session an approval opened until the CLI collects it: AES-256-GCM under a key derived
 * from CONFIG_ENCRYPTION_KEY, bound to the grant (`aad`), so Redis never holds a usable session id.
 */
export class SessionSeal {
  private readonly key: Buffer;

  constructor(configEncryptionKey: string) {
    this.key = Buffer.from(
      hkdfSync('sha256', Buffer.from(configEncryptionKey, 'base64'), '', 'kre cli-login seal', 32),
    );
  }

  seal(plain: string, aad: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv).setAAD(Buffer.from(aad));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  }

  open(sealed: string, aad: string): string {
    const raw = Buffer.from(sealed, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12))
      .setAAD(Buffer.from(aad))
      .setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }
}
