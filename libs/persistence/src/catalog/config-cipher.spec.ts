import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigCipher } from './config-cipher.js';

describe(ConfigCipher.name, () => {
  const sut = new ConfigCipher(randomBytes(32).toString('base64'));

  it('round-trips a value, with a fresh IV each time', () => {
    const a = sut.encrypt('s3cret ✓');
    const b = sut.encrypt('s3cret ✓');
    expect(a).not.toBe(b);
    expect(a).not.toContain('s3cret');
    expect(sut.decrypt(a)).toBe('s3cret ✓');
  });

  it('refuses a tampered value and a value sealed with another key', () => {
    const sealed = sut.encrypt('value');
    const parts = sealed.split(':');
    parts[3] = Buffer.from('other').toString('base64');
    expect(() => sut.decrypt(parts.join(':'))).toThrow();
    expect(() => new ConfigCipher(randomBytes(32).toString('base64')).decrypt(sealed)).toThrow();
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => new ConfigCipher(randomBytes(16).toString('base64'))).toThrow(/32 bytes/);
  });
});
