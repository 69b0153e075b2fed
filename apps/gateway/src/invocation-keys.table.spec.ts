import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvocationKeysTable, presentedKey } from './invocation-keys.table.js';

const key = (c: string) => `kre_ik_${c.repeat(40)}`;
const hash = (k: string) => createHash('sha256').update(k).digest('hex');
const entry = (requireKey: boolean, keys: { id: string; key: string; expiresAt?: string }[]) =>
  JSON.stringify({
    generation: 1,
    requireKey,
    keys: keys.map((k) => ({ id: k.id, hash: hash(k.key), expiresAt: k.expiresAt ?? null })),
  });

describe(InvocationKeysTable.name, () => {
  const now = Date.parse('2026-06-01T00:00:00Z');

  it('admits a runtime’s own key and refuses none, another’s, a wrong and an expired one', () => {
    const sut = new InvocationKeysTable();
    sut.apply(
      'shop',
      'PUT',
      entry(true, [
        { id: 'k1', key: key('a') },
        { id: 'k2', key: key('b'), expiresAt: '2026-05-31T23:59:59.000Z' },
      ]),
    );
    sut.apply('blog', 'PUT', entry(true, [{ id: 'k3', key: key('c') }]));
    expect(sut.check('shop', key('a'), now)).toEqual({ outcome: 'ok', keyId: 'k1' });
    expect(sut.check('shop', undefined, now)).toMatchObject({
      outcome: 'refused',
      message: expect.stringContaining('needs an invocation key') as unknown,
    });
    for (const wrong of [key('c'), key('z'), 'kre_ik_short', 'Bearer'])
      expect(sut.check('shop', wrong, now)).toMatchObject({
        outcome: 'refused',
        message:
          'the invocation key is not valid for runtime "shop" (unknown, revoked, or another runtime\'s)',
      });
    expect(sut.check('shop', key('b'), now)).toMatchObject({
      outcome: 'refused',
      message: expect.stringContaining('expired at 2026-05-31T23:59:59.000Z') as unknown,
    });
    expect(sut.check('blog', key('c'), now)).toEqual({ outcome: 'ok', keyId: 'k3' });
  });

  it('follows changes: a key left out (revoked) stops working; requireKey false admits anyone', () => {
    const sut = new InvocationKeysTable();
    sut.apply('shop', 'PUT', entry(true, [{ id: 'k1', key: key('a') }]));
    sut.apply('shop', 'PUT', entry(true, []));
    expect(sut.check('shop', key('a'), now).outcome).toBe('refused');
    sut.apply('shop', 'PUT', entry(false, []));
    expect(sut.check('shop', undefined, now)).toEqual({ outcome: 'ok' });
    sut.apply('shop', 'DEL', '');
    expect(sut.check('shop', undefined, now)).toEqual({ outcome: 'unknown-runtime' });
  });

  it('fails closed on an entry it cannot read', () => {
    const sut = new InvocationKeysTable();
    sut.apply('shop', 'PUT', entry(false, []));
    sut.apply('shop', 'PUT', '{"requireKey": false}');
    expect(sut.check('shop', undefined, now)).toEqual({ outcome: 'unknown-runtime' });
    sut.apply('shop', 'PUT', 'not json');
    expect(sut.check('shop', undefined, now)).toEqual({ outcome: 'unknown-runtime' });
  });

  it('reads the key from Authorization: Bearer or x-api-key', () => {
    expect(presentedKey('Bearer abc', undefined)).toBe('abc');
    expect(presentedKey('bearer  abc ', undefined)).toBe('abc');
    expect(presentedKey(undefined, 'xyz')).toBe('xyz');
    expect(presentedKey('Basic abc', undefined)).toBeUndefined();
    expect(presentedKey(undefined, undefined)).toBeUndefined();
  });
});
