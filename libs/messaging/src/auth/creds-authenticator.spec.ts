import { credsAuthenticator } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { InvalidCredsError, credsFileAuthenticator } from './creds-authenticator.js';
import { createNatsAuthority, mintUser } from './nats-authority.js';

describe('credsFileAuthenticator', () => {
  it("answers every nonce exactly as nats.js's credsAuthenticator does", async () => {
    const { creds } = await mintUser(createNatsAuthority(), 'workload', {
      pub: ['kre.rt.>'],
      sub: ['_INBOX_rt_v1.>'],
    });
    const bytes = new TextEncoder().encode(creds);
    const ours = credsFileAuthenticator(() => bytes);
    const theirs = credsAuthenticator(bytes);
    for (const nonce of ['kcdwN2zMAvSSYJI', 'a', 'nonce with spaces ✓', undefined])
      expect(ours(nonce)).toEqual(theirs(nonce));
  });

  it('names what is wrong with a creds file', async () => {
    const { creds } = await mintUser(createNatsAuthority(), 'workload', { pub: [], sub: [] });
    const jwtOnly = creds.slice(0, creds.indexOf('************************* IMPORTANT'));
    const read = (text: string) => () => new TextEncoder().encode(text);
    expect(() => credsFileAuthenticator(read(jwtOnly))('n')).toThrow(InvalidCredsError);
    expect(() => credsFileAuthenticator(read('not a creds file'))('n')).toThrow(
      'NATS credentials: a JWT and a seed block are required',
    );
    const badSeed = creds.replace(/SU[A-Z2-7]{56}/, `SU${'A'.repeat(56)}`);
    expect(() => credsFileAuthenticator(read(badSeed))('n')).toThrow();
  });
});
