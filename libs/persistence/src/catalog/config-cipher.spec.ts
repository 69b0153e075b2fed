import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ConfigCipher,
  ConfigValueUnreadableError,
  LegacyConfigValueError,
  type ConfigValueContext,
} from './config-cipher.js';

const here: ConfigValueContext = { runtimeId: 'rt-a', versionName: 'v1', key: 'API_KEY' };

describe(ConfigCipher.name, () => {
  const key = randomBytes(32);
  const sut = new ConfigCipher(key.toString('base64'));

  it('round-trips a value, with a fresh IV each time', () => {
    const a = sut.encrypt('s3cret ✓', here);
    const b = sut.encrypt('s3cret ✓', here);
    expect(a).not.toBe(b);
    expect(a).not.toContain('s3cret');
    expect(a).toMatch(/^v2:/);
    expect(sut.decrypt(a, here)).toBe('s3cret ✓');
    expect(sut.decrypt(sut.encrypt('', here), here)).toBe('');
  });

  it.each([
    ['runtime', { ...here, runtimeId: 'rt-b' }],
    ['version', { ...here, versionName: 'v2' }],
    ['config key', { ...here, key: 'OTHER_KEY' }],
  ])('refuses a value copied to another %s', (_, elsewhere) => {
    const sealed = sut.encrypt('value', here);
    expect(() => sut.decrypt(sealed, elsewhere)).toThrow(ConfigValueUnreadableError);
    expect(() => sut.decrypt(sealed, elsewhere)).toThrow(/"OTHER_KEY"|"v2"|"rt-b"/);
  });

  it('does not confuse contexts whose parts join to the same text', () => {
    const sealed = sut.encrypt('value', { runtimeId: 'a', versionName: 'b-c', key: 'K' });
    expect(() => sut.decrypt(sealed, { runtimeId: 'a-b', versionName: 'c', key: 'K' })).toThrow(
      ConfigValueUnreadableError,
    );
  });

  it('reseals a value for another version', () => {
    const next = { ...here, versionName: 'v2' };
    const moved = sut.reseal(sut.encrypt('value', here), here, next);
    expect(sut.decrypt(moved, next)).toBe('value');
    expect(() => sut.decrypt(moved, here)).toThrow(ConfigValueUnreadableError);
  });

  it('refuses a truncated authentication tag', () => {
    const [format, iv, tag, data] = sut.encrypt('value', here).split(':');
    for (const bytes of [4, 8, 12, 15]) {
      const short = Buffer.from(tag, 'base64').subarray(0, bytes).toString('base64');
      expect(() => sut.decrypt([format, iv, short, data].join(':'), here)).toThrow(
        `authentication tag of ${bytes} bytes`,
      );
    }
  });

  it('refuses a short tag that is valid for a GCM cipher told to make short tags', () => {
    // What an attacker with a 4-byte tag could present: authentic for a 4-byte tag length.
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 4 });
    cipher.setAAD(Buffer.from(JSON.stringify(['v2', here.runtimeId, here.versionName, here.key])));
    const data = Buffer.concat([cipher.update('value', 'utf8'), cipher.final()]);
    const sealed = ['v2', ...[iv, cipher.getAuthTag(), data].map((p) => p.toString('base64'))].join(
      ':',
    );
    expect(() => sut.decrypt(sealed, here)).toThrow(ConfigValueUnreadableError);
  });

  it('refuses a tampered value and a value sealed with another key', () => {
    const sealed = sut.encrypt('value', here);
    const parts = sealed.split(':');
    parts[3] = Buffer.from('other').toString('base64');
    expect(() => sut.decrypt(parts.join(':'), here)).toThrow(ConfigValueUnreadableError);
    expect(() =>
      new ConfigCipher(randomBytes(32).toString('base64')).decrypt(sealed, here),
    ).toThrow(ConfigValueUnreadableError);
    expect(() => sut.decrypt('plain text', here)).toThrow('not an encrypted config value');
  });

  it('refuses a value of the first format, naming the key and saying to set it again', () => {
    // v1 had no authenticated data: `v1:<iv>:<tag>:<ciphertext>`.
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const data = Buffer.concat([cipher.update('value', 'utf8'), cipher.final()]);
    const legacy = ['v1', ...[iv, cipher.getAuthTag(), data].map((p) => p.toString('base64'))].join(
      ':',
    );
    expect(() => sut.decrypt(legacy, here)).toThrow(LegacyConfigValueError);
    expect(() => sut.decrypt(legacy, here)).toThrow(
      /config value "API_KEY" of version "v1" in runtime "rt-a" .*set it again/,
    );
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => new ConfigCipher(randomBytes(16).toString('base64'))).toThrow(/32 bytes/);
  });
});
