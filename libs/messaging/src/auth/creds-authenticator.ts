import { createPrivateKey, sign } from 'node:crypto';
import { encode, fromSeed } from '@nats-io/nkeys';
import type { Authenticator } from '@nats-io/transport-node';

/** A creds file's two armoured blocks: the user JWT, then the user's seed (as nsc writes it). */
const CREDS_BLOCK = /\s*(?:(?:-{3,}[^\n]*-{3,}\n)(.+)(?:\n\s*-{3,}[^\n]*-{3,}\n))/gi;

/** DER of a PKCS#8 Ed25519 private key up to its 32-byte seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export class InvalidCredsError extends Error {
  constructor(reason: string) {
    super(`NATS credentials: ${reason}`);
    this.name = 'InvalidCredsError';
  }
}

/**
 * The authenticator of a `.creds` file (`read` gives its bytes at each (re)connect, so replaced
 * credentials take effect): the user JWT, its public key and the server's nonce signed with the
 * user's seed. The same answer as `@nats-io/transport-node`'s `credsAuthenticator` (Ed25519
 * signatures are deterministic), but signed with Node's OpenSSL instead of nkeys' pure-JS
 * tweetnacl, whose first signature took 30 to 40 ms of every process's start, which a cold
 * start waits for (issue #16), and the public key read from the JWT's subject instead of
 * derived from the seed again.
 */
export function credsFileAuthenticator(read: () => Uint8Array): Authenticator {
  return (nonce?: string) => {
    const blocks = [...new TextDecoder().decode(read()).matchAll(CREDS_BLOCK)].map((m) =>
      m[1].trim(),
    );
    const [jwt, seed] = blocks;
    if (!jwt || !seed) throw new InvalidCredsError('a JWT and a seed block are required');
    const nkey = subjectOf(jwt);
    const raw = rawSeedOf(seed);
    const key = createPrivateKey({
      key: Buffer.concat([ED25519_PKCS8_PREFIX, raw]),
      format: 'der',
      type: 'pkcs8',
    });
    const sig = nonce ? encode(sign(null, Buffer.from(nonce), key)) : '';
    return { jwt, nkey, sig };
  };
}

/**
 * The 32 bytes an nkey seed encodes, checked by nkeys (prefix, length, CRC). `getRawSeed` is a
 * public method of nkeys' key pairs that its `KeyPair` interface leaves out; the spec compares
 * this authenticator's answers with nats.js's own.
 */
function rawSeedOf(seed: string): Uint8Array {
  const pair = fromSeed(new TextEncoder().encode(seed)) as ReturnType<typeof fromSeed> & {
    getRawSeed?: () => Uint8Array;
  };
  if (typeof pair.getRawSeed !== 'function')
    throw new InvalidCredsError('this nkeys version cannot give the raw seed');
  return pair.getRawSeed();
}

/** The user public key a user JWT is issued to (its `sub`). */
function subjectOf(jwt: string): string {
  const payload = jwt.split('.')[1];
  if (!payload) throw new InvalidCredsError('the JWT has no payload');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
    sub?: unknown;
  };
  if (typeof claims.sub !== 'string' || !claims.sub.startsWith('U'))
    throw new InvalidCredsError('the JWT names no user key (sub)');
  return claims.sub;
}
