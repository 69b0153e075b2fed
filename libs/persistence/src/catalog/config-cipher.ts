import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ConflictError } from '@libs/core';

/** Where a sealed config value belongs: a value is only readable where it was sealed. */
export interface ConfigValueContext {
  readonly runtimeId: string;
  readonly versionName: string;
  /** The config key (variable or file name). */
  readonly key: string;
}

const FORMAT = 'v2';
const IV_BYTES = 12;
/** GCM's full tag: a shorter one (which Node would accept) makes forging far cheaper. */
const TAG_BYTES = 16;

const where = (ctx: ConfigValueContext) =>
  `config value "${ctx.key}" of version "${ctx.versionName}" in runtime "${ctx.runtimeId}"`;

/** A value stored in the first format (`v1:`), which bound nothing and is no longer read. */
export class LegacyConfigValueError extends ConflictError {
  constructor(ctx: ConfigValueContext) {
    super(
      `${where(ctx)} was stored in an old format that is no longer read: set it again with updateVersionUserConfiguration`,
      { runtimeId: ctx.runtimeId, versionName: ctx.versionName, key: ctx.key },
    );
  }
}

/**
 * A value that does not open here: another `CONFIG_ENCRYPTION_KEY`, sealed for another runtime,
 * version or key (copied in the database), or altered. An operator's problem, not a user's.
 */
export class ConfigValueUnreadableError extends Error {
  constructor(ctx: ConfigValueContext, reason: string) {
    super(`${where(ctx)} cannot be decrypted (${reason})`);
    this.name = new.target.name;
  }
}

/**
 * Version config values at rest: AES-256-GCM with a random 96-bit IV per value and the full
 * 128-bit tag, the key from `CONFIG_ENCRYPTION_KEY` (32 bytes, base64). Stored as
 * `v2:<iv>:<tag>:<ciphertext>` (base64). The authenticated data is the value's runtime, version
 * and config key, so a value copied in the database to another runtime, version or key does not
 * decrypt; carrying a value to a new version means decrypting and sealing it again (`reseal`).
 *
 * Values of the first format (`v1:`, no authenticated data, tag length unchecked) are refused
 * with a {@link LegacyConfigValueError} naming the key and saying to set the value again: there
 * was no production data to migrate, and reading them would keep the unbound format alive.
 */
export class ConfigCipher {
  private readonly key: Buffer;

  constructor(base64Key: string) {
    this.key = Buffer.from(base64Key, 'base64');
    if (this.key.length !== 32)
      throw new Error('CONFIG_ENCRYPTION_KEY must be 32 bytes, base64-encoded');
  }

  /** Seals `plain` for one config key of one version. */
  encrypt(plain: string, ctx: ConfigValueContext): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(ctx));
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [FORMAT, ...[iv, cipher.getAuthTag(), data].map((p) => p.toString('base64'))].join(':');
  }

  /**
   * Opens a value sealed for exactly this runtime, version and key.
   * @throws LegacyConfigValueError for a `v1:` value | ConfigValueUnreadableError otherwise
   */
  decrypt(sealed: string, ctx: ConfigValueContext): string {
    const [format, iv, tag, data, ...extra] = sealed.split(':');
    if (format === 'v1') throw new LegacyConfigValueError(ctx);
    if (format !== FORMAT || !iv || !tag || data === undefined || extra.length > 0)
      throw new ConfigValueUnreadableError(ctx, 'not an encrypted config value');
    const ivBytes = Buffer.from(iv, 'base64');
    const tagBytes = Buffer.from(tag, 'base64');
    if (ivBytes.length !== IV_BYTES)
      throw new ConfigValueUnreadableError(ctx, `IV of ${ivBytes.length} bytes`);
    // Node accepts tags of 4 to 16 bytes unless told the length; a truncated tag is refused.
    if (tagBytes.length !== TAG_BYTES)
      throw new ConfigValueUnreadableError(ctx, `authentication tag of ${tagBytes.length} bytes`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, ivBytes, {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(associatedData(ctx));
      decipher.setAuthTag(tagBytes);
      return Buffer.concat([
        decipher.update(Buffer.from(data, 'base64')),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new ConfigValueUnreadableError(
        ctx,
        'sealed with another CONFIG_ENCRYPTION_KEY, for another runtime, version or key, or altered',
      );
    }
  }

  /** The same value sealed for another place (a new version inheriting it). @throws as decrypt */
  reseal(sealed: string, from: ConfigValueContext, to: ConfigValueContext): string {
    return this.encrypt(this.decrypt(sealed, from), to);
  }
}

/** Unambiguous: names never contain `"` or `\`, and JSON would escape them if they did. */
function associatedData(ctx: ConfigValueContext): Buffer {
  return Buffer.from(JSON.stringify([FORMAT, ctx.runtimeId, ctx.versionName, ctx.key]), 'utf8');
}
