import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { InvocationKeysBucket, bindInvocationKeys, connectNats } from '@libs/messaging';
import { Names } from '@libs/naming';
import { engineCredentials, testEnv } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvocationKeysTable } from './invocation-keys.table.js';

/** The gateway's and admin-api's own NATS identities, as in production. */
describe(`${InvocationKeysTable.name} with the gateway's NATS identity`, () => {
  const env = testEnv();
  const names = new Names(env.KRE_PREFIX);
  let gateway: NatsConnection;
  let adminApi: NatsConnection;
  const sut = new InvocationKeysTable();

  beforeAll(async () => {
    const connect = async (app: 'gateway' | 'admin-api') =>
      connectNats({ url: env.NATS_URL, credentials: await engineCredentials(env, app), name: app });
    [gateway, adminApi] = [await connect('gateway'), await connect('admin-api')];
  });
  afterAll(async () => {
    sut.stop();
    await gateway.drain();
    await adminApi.drain();
  });

  it('waits for admin-api to create the bucket, never creating it, with every runtime closed meanwhile', async () => {
    const { firstAttempt } = sut.follow(() => bindInvocationKeys(gateway, names), 50);
    expect(await firstAttempt).toBe(false);
    expect(sut.ready).toBe(false);
    expect(sut.check('shop', undefined, Date.now())).toEqual({ outcome: 'unknown-runtime' });
    const jsm = await jetstreamManager(adminApi);
    await expect(jsm.streams.info(`KV_${names.invocationKeysBucket()}`)).rejects.toThrow(
      /stream not found/,
    );

    const bucket = await InvocationKeysBucket.open(adminApi, names); // admin-api's start
    await bucket.put('shop', { generation: 1, requireKey: false, keys: [] });
    await expect.poll(() => sut.ready).toBe(true);
    await expect.poll(() => sut.check('shop', undefined, Date.now())).toEqual({ outcome: 'ok' });
  });

  it("admin-api's identity does all its reconcile does: list, read, compare-and-set, remove", async () => {
    const bucket = await InvocationKeysBucket.open(adminApi, names);
    await bucket.put('gone', { generation: 1, requireKey: true, keys: [] });
    expect((await bucket.runtimeIds()).sort()).toEqual(['gone', 'shop']);
    expect(await bucket.get('shop')).toEqual({ generation: 1, requireKey: false, keys: [] });
    expect(await bucket.put('shop', { generation: 2, requireKey: true, keys: [] })).toBe(true);
    await bucket.remove('gone');
    expect(await bucket.runtimeIds()).toEqual(['shop']);
    await expect.poll(() => sut.check('shop', undefined, Date.now()).outcome).toBe('refused');
  });

  it('reads the bucket but cannot write it; reports key use to admin-api', async () => {
    const kv = await new Kvm(gateway).open(names.invocationKeysBucket());
    await expect(
      kv.put('shop', '{"generation": 9, "requireKey": false, "keys": []}'),
    ).rejects.toThrow();
    const reports: string[] = [];
    adminApi.subscribe(names.invocationKeyUsedSubject(), {
      callback: (_, msg) => {
        reports.push(msg.string());
      },
    });
    await adminApi.flush();
    gateway.publish(names.invocationKeyUsedSubject(), '{"runtimeId":"shop","keyId":"k","at":"x"}');
    await expect.poll(() => reports).toHaveLength(1);
  });
});
