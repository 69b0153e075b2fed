import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { InvocationKeysBucket, connectNats, type RuntimeInvocationKeys } from '@libs/messaging';
import { Names } from '@libs/naming';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvocationKeyUsageConsumer } from '../src/invocation-keys/invocation-key-usage.consumer.js';
import { InvocationKeysPublisher } from '../src/invocation-keys/invocation-keys.publisher.js';
import { Harness } from './harness.js';

interface Key {
  id: string;
  name: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  createdBy: string;
}

const KEY_FIELDS = 'id name createdAt createdBy expiresAt lastUsedAt revokedAt';
const sha = (k: string) => createHash('sha256').update(k).digest('hex');

describe('invocation keys (admin-api)', () => {
  let h: Harness;
  let admin: string;
  let adminId: string;
  let manager: { id: string; email: string; session: string };
  let nc: NatsConnection;
  let bucket: InvocationKeysBucket;

  const gql = <T>(query: string, variables: Record<string, unknown> = {}, session = admin) =>
    h.gql<T>(query, variables, { session });
  const errorOf = (result: {
    errors?: { message: string; extensions?: Record<string, unknown> }[];
  }) =>
    result.errors?.[0]
      ? { code: result.errors[0].extensions?.code, message: result.errors[0].message }
      : null;
  const createRuntime = async (id: string) => {
    const created = await gql<{ createRuntime: { requireInvocationKey: boolean } }>(
      'mutation($id: ID!, $name: String!) { createRuntime(input: {id: $id, name: $name}) { requireInvocationKey } }',
      { id, name: id },
    );
    if (!created.data) throw new Error(JSON.stringify(created.errors));
    return created.data.createRuntime;
  };
  const createKey = async (runtimeId: string, name: string, expiresAt?: string) => {
    const result = await gql<{ createInvocationKey: { key: string; invocationKey: Key } }>(
      `mutation($r: ID!, $input: CreateInvocationKeyInput!) { createInvocationKey(runtimeId: $r, input: $input) { key invocationKey { ${KEY_FIELDS} } } }`,
      { r: runtimeId, input: { name, ...(expiresAt ? { expiresAt } : {}) } },
    );
    if (!result.data) throw new Error(JSON.stringify(result.errors));
    return result.data.createInvocationKey;
  };
  const listKeys = async (runtimeId: string) =>
    (
      await gql<{ invocationKeys: Key[] }>(
        `query($r: ID!) { invocationKeys(runtimeId: $r) { ${KEY_FIELDS} } }`,
        { r: runtimeId },
      )
    ).data!.invocationKeys;
  const auditTypes = async (runtimeId: string) =>
    (
      await gql<{
        userActivityList: { items: { type: string; vars: { key: string; value: string }[] }[] };
      }>(
        'query($r: String) { userActivityList(filters: {runtimeId: $r}) { items { type vars { key value } } } }',
        { r: runtimeId },
      )
    ).data!.userActivityList.items;

  beforeAll(async () => {
    h = await Harness.start();
    admin = await h.signIn(h.adminEmail);
    adminId = (await gql<{ me: { id: string } }>('{ me { id } }')).data!.me.id;
    manager = await h.user('manager', 'USER', admin);
    nc = await connectNats({
      url: h.env.NATS_URL,
      credentials: h.env.NATS_CREDS,
      name: 'int-invocation-keys',
    });
    bucket = await InvocationKeysBucket.open(nc, new Names(h.env.KRE_PREFIX));
  });
  afterAll(async () => {
    await nc?.drain();
    await h?.close();
  });

  it('a new runtime needs a key, and the gateways are told at once (an entry with no keys)', async () => {
    expect(await createRuntime('rt-new')).toEqual({ requireInvocationKey: true });
    expect(await bucket.get('rt-new')).toMatchObject({ requireKey: true, keys: [] });
  });

  it('creates a key shown once, stored as its hash, published, audited; names are unique per runtime', async () => {
    await createRuntime('rt-keys');
    const created = await createKey('rt-keys', 'web shop', '2030-01-01T00:00:00.000Z');
    expect(created.key).toMatch(/^kre_ik_[0-9A-Za-z]{40}$/);
    expect(created.invocationKey).toMatchObject({
      name: 'web shop',
      createdBy: adminId,
      expiresAt: '2030-01-01T00:00:00.000Z',
      lastUsedAt: null,
      revokedAt: null,
    });
    // At rest only the hash: the key appears in no document and no log line.
    const stored = await h
      .connection()
      .collection('invocation_keys')
      .find({ runtimeId: 'rt-keys' })
      .toArray();
    expect(stored).toHaveLength(1);
    expect(stored[0].hash).toBe(sha(created.key));
    expect(JSON.stringify(stored)).not.toContain(created.key);
    expect(h.logs.text()).not.toContain(created.key);
    const published = await bucket.get('rt-keys');
    expect(published).toMatchObject({
      requireKey: true,
      keys: [
        {
          id: created.invocationKey.id,
          hash: sha(created.key),
          expiresAt: '2030-01-01T00:00:00.000Z',
        },
      ],
    });
    expect(JSON.stringify(published)).not.toContain(created.key);
    const [audit] = await auditTypes('rt-keys');
    expect(audit.type).toBe('CREATE_INVOCATION_KEY');
    expect(Object.fromEntries(audit.vars.map((v) => [v.key, v.value]))).toEqual({
      INVOCATION_KEY_ID: created.invocationKey.id,
      INVOCATION_KEY_NAME: 'web shop',
      EXPIRES_AT: '2030-01-01T00:00:00.000Z',
    });

    const again = await gql(
      'mutation { createInvocationKey(runtimeId: "rt-keys", input: {name: "web shop"}) { key } }',
    );
    expect(errorOf(again)).toEqual({
      code: 'CONFLICT',
      message:
        'runtime "rt-keys" already has an invocation key named "web shop": choose another name',
    });
    const past = await gql(
      'mutation($at: DateTime) { createInvocationKey(runtimeId: "rt-keys", input: {name: "old", expiresAt: $at}) { key } }',
      { at: new Date(h.clock.now().getTime() - 1_000).toISOString() },
    );
    expect(past.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      errors: [{ field: 'input.expiresAt', message: 'must be in the future' }],
    });
  });

  it('revokes a key: gone from the gateways’ entry, listed with revokedAt, audited once', async () => {
    await createRuntime('rt-revoke');
    const keep = await createKey('rt-revoke', 'keep');
    const doomed = await createKey('rt-revoke', 'doomed');
    expect((await bucket.get('rt-revoke'))?.keys.map((k) => k.id)).toEqual([
      keep.invocationKey.id,
      doomed.invocationKey.id,
    ]);
    const revoke = () =>
      gql<{ revokeInvocationKey: Key }>(
        `mutation($id: ID!) { revokeInvocationKey(runtimeId: "rt-revoke", id: $id) { ${KEY_FIELDS} } }`,
        { id: doomed.invocationKey.id },
      );
    const revoked = (await revoke()).data!.revokeInvocationKey;
    expect(revoked.revokedAt).toBe(h.clock.now().toISOString());
    expect((await bucket.get('rt-revoke'))?.keys.map((k) => k.id)).toEqual([keep.invocationKey.id]);
    // Again: the same answer, published once more, no second audit entry.
    expect((await revoke()).data!.revokeInvocationKey.revokedAt).toBe(revoked.revokedAt);
    const types = (await auditTypes('rt-revoke')).map((a) => a.type);
    expect(types.filter((t) => t === 'REVOKE_INVOCATION_KEY')).toHaveLength(1);
    expect((await listKeys('rt-revoke')).map((k) => [k.name, k.revokedAt !== null])).toEqual([
      ['keep', false],
      ['doomed', true],
    ]);
    // Another runtime's key is not found, as a missing one.
    await createRuntime('rt-other');
    const theirs = await gql(
      'mutation($id: ID!) { revokeInvocationKey(runtimeId: "rt-other", id: $id) { id } }',
      { id: keep.invocationKey.id },
    );
    expect(errorOf(theirs)).toEqual({
      code: 'NOT_FOUND',
      message: `invocationKey "${keep.invocationKey.id}" not found`,
    });
    expect((await bucket.get('rt-revoke'))?.keys).toHaveLength(1);
  });

  it('only runtime ADMINs manage keys and the flag: a MANAGER is FORBIDDEN', async () => {
    await createRuntime('rt-roles');
    await gql(
      'mutation($e: String!) { addRuntimeMember(input: {runtimeId: "rt-roles", email: $e, role: MANAGER}) { userId } }',
      { e: manager.email },
    );
    const forbidden = {
      code: 'FORBIDDEN',
      message: 'this needs the ADMIN role on runtime "rt-roles"',
    };
    for (const query of [
      '{ invocationKeys(runtimeId: "rt-roles") { id } }',
      'mutation { createInvocationKey(runtimeId: "rt-roles", input: {name: "x"}) { key } }',
      'mutation { revokeInvocationKey(runtimeId: "rt-roles", id: "ik_x") { id } }',
      'mutation { updateRuntime(input: {id: "rt-roles", requireInvocationKey: false}) { id } }',
    ])
      expect(errorOf(await gql(query, {}, manager.session))).toEqual(forbidden);
    const seen = await gql<{ runtime: { requireInvocationKey: boolean } }>(
      '{ runtime(id: "rt-roles") { requireInvocationKey } }',
      {},
      manager.session,
    );
    expect(seen.data).toEqual({ runtime: { requireInvocationKey: true } });
  });

  it('updateRuntime turns the key check off and on: published, audited with old and new values', async () => {
    await createRuntime('rt-flag');
    const set = (value: boolean) =>
      gql<{ updateRuntime: { requireInvocationKey: boolean } }>(
        'mutation($v: Boolean!) { updateRuntime(input: {id: "rt-flag", requireInvocationKey: $v}) { requireInvocationKey } }',
        { v: value },
      );
    expect((await set(false)).data).toEqual({ updateRuntime: { requireInvocationKey: false } });
    expect(await bucket.get('rt-flag')).toMatchObject({ requireKey: false });
    expect((await set(true)).data).toEqual({ updateRuntime: { requireInvocationKey: true } });
    expect(await bucket.get('rt-flag')).toMatchObject({ requireKey: true });
    const updates = (await auditTypes('rt-flag')).filter((a) => a.type === 'UPDATE_RUNTIME');
    expect(updates.map((a) => Object.fromEntries(a.vars.map((v) => [v.key, v.value])))).toEqual([
      { FIELD: 'requireInvocationKey', OLD_VALUE: 'false', NEW_VALUE: 'true' },
      { FIELD: 'requireInvocationKey', OLD_VALUE: 'true', NEW_VALUE: 'false' },
    ]);
  });

  it('refuses the runtime id "invocation" (its version "keys" would name the keys bucket)', async () => {
    const result = await gql(
      'mutation { createRuntime(input: {id: "invocation", name: "x"}) { id } }',
    );
    expect(result.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      errors: [
        { field: 'input.id', message: 'is reserved (KRE names one of its own buckets after it)' },
      ],
    });
  });

  it('reconciles at start: a lost entry comes back, a deleted runtime’s goes, a runtime from before keys reads as open', async () => {
    await createRuntime('rt-heal');
    const created = await createKey('rt-heal', 'k');
    const runtimes = h.connection().collection<{ _id: string }>('runtimes');
    await runtimes.insertOne({
      _id: 'rt-legacy',
      name: 'legacy',
      description: '',
      status: 'CREATED',
      createdAt: new Date(),
      createdBy: adminId,
    } as never);
    await bucket.remove('rt-heal'); // an update the gateways never got
    await bucket.put('rt-gone', { generation: 1, requireKey: false, keys: [] });
    const result = await h.get(InvocationKeysPublisher).reconcile();
    expect(result.removed).toBe(1);
    expect(await bucket.get('rt-heal')).toMatchObject({
      requireKey: true,
      keys: [{ id: created.invocationKey.id, hash: sha(created.key) }],
    });
    expect(await bucket.get('rt-gone')).toBeNull();
    expect(await bucket.get('rt-legacy')).toMatchObject({ requireKey: false, keys: [] });
    const legacy = await gql<{ runtime: { requireInvocationKey: boolean } }>(
      '{ runtime(id: "rt-legacy") { requireInvocationKey } }',
    );
    expect(legacy.data).toEqual({ runtime: { requireInvocationKey: false } });
  });

  it('a runtime created again with the id of a deleted one starts with no keys', async () => {
    await createRuntime('rt-again');
    await createKey('rt-again', 'old');
    // What the deployer does at the end of deleteRuntime's job.
    await h.connection().collection<{ _id: string }>('runtimes').deleteOne({ _id: 'rt-again' });
    h.clock.advance(1_000);
    await createRuntime('rt-again');
    expect(await listKeys('rt-again')).toEqual([]);
    expect(await bucket.get('rt-again')).toMatchObject({ requireKey: true, keys: [] });
    // Also when admin-api was down meanwhile: the old runtime's entry (a higher generation)
    // gives way at the next start.
    const stale = { incarnation: 'before', generation: 99, requireKey: false, keys: [] };
    await bucket.remove('rt-again');
    await bucket.put('rt-again', stale);
    await h.get(InvocationKeysPublisher).reconcile();
    expect(await bucket.get('rt-again')).toMatchObject({ requireKey: true, keys: [] });
  });

  it('of two states, the newer generation wins whatever the order they arrive in', async () => {
    const newer: RuntimeInvocationKeys = { generation: 7, requireKey: true, keys: [] };
    expect(await bucket.put('rt-order', newer)).toBe(true);
    expect(await bucket.put('rt-order', { ...newer, generation: 6, requireKey: false })).toBe(
      false,
    );
    expect(await bucket.get('rt-order')).toEqual(newer);
    await bucket.remove('rt-order');
  });

  it('records the gateways’ reports of use as lastUsedAt, at most once a minute', async () => {
    await createRuntime('rt-used');
    const created = await createKey('rt-used', 'k');
    const subject = new Names(h.env.KRE_PREFIX).invocationKeyUsedSubject();
    const report = async (runtimeId: string, at: Date) => {
      nc.publish(
        subject,
        JSON.stringify({ runtimeId, keyId: created.invocationKey.id, at: at.toISOString() }),
      );
      await nc.flush();
    };
    const lastUsed = async () =>
      (await listKeys('rt-used')).find((k) => k.id === created.invocationKey.id)?.lastUsedAt;
    const t0 = h.clock.now();
    await report('rt-used', t0);
    await expect.poll(lastUsed).toBe(t0.toISOString());
    h.clock.advance(30_000);
    await report('rt-used', h.clock.now());
    await report('rt-other', h.clock.now()); // not that runtime's key: nothing
    await h.get(InvocationKeyUsageConsumer).idle();
    h.clock.advance(31_000);
    const t2 = h.clock.now();
    await report('rt-used', t2);
    await expect.poll(lastUsed).toBe(t2.toISOString());
  });
});
