import type { NatsConnection } from '@nats-io/transport-node';
import {
  compressToFit,
  connectNats,
  decodeDataReply,
  encodeFindRequest,
  encodeSaveRequest,
} from '@libs/messaging';
import { Names } from '@libs/naming';
import { mongooseOptions } from '@libs/persistence';
import { testEnv } from '@libs/testing';
import mongoose, { type Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataRequestsConsumer } from './data-requests.consumer.js';
import { RuntimeDataRepository } from './runtime-data.repository.js';

describe(DataRequestsConsumer.name, () => {
  const env = testEnv();
  const names = new Names(env.KRE_PREFIX);
  let nc: NatsConnection;
  let connection: Connection;
  let sut: DataRequestsConsumer;

  beforeAll(async () => {
    nc = await connectNats({ url: env.NATS_URL, credentials: env.NATS_CREDS, name: 'int-data' });
    connection = await mongoose
      .createConnection(env.MONGO_URL, mongooseOptions(names.platformDb()))
      .asPromise();
    sut = new DataRequestsConsumer(nc, names, new RuntimeDataRepository(connection, names));
    sut.onApplicationBootstrap();
  });
  afterAll(async () => {
    await sut.beforeApplicationShutdown();
    for (const rt of ['shop', 'other'])
      await connection.getClient().db(names.runtimeDataDb(rt)).dropDatabase();
    await connection.close();
    await nc.drain();
  });

  const save = async (rt: string, collection: string, document: Record<string, unknown>) =>
    decodeDataReply(
      (
        await nc.request(
          names.dataSubject(rt, 'save'),
          encodeSaveRequest({ collection, document: document as never }),
        )
      ).data,
    );
  const find = async (rt: string, collection: string, query: Record<string, unknown>, extra = {}) =>
    decodeDataReply(
      (
        await nc.request(
          names.dataSubject(rt, 'find'),
          encodeFindRequest({ collection, query: query as never, ...extra }),
        )
      ).data,
    );

  it('saves into the runtime data database and finds with safe operators, sorted and limited', async () => {
    const first = await save('shop', 'orders', { sku: 'a', qty: 1, tags: ['x'] });
    expect(first.id).toMatch(/^[0-9a-f]{24}$/);
    await save('shop', 'orders', { _id: 'fixed', sku: 'b', qty: 5 });
    await save('shop', 'orders', { sku: 'c', qty: 3 });
    const found = await find('shop', 'orders', { qty: { $gte: 2 } }, { sort: { qty: -1 } });
    expect(found.documents).toEqual([
      { _id: 'fixed', sku: 'b', qty: 5 },
      { _id: expect.stringMatching(/^[0-9a-f]{24}$/) as string, sku: 'c', qty: 3 },
    ]);
    expect(
      (await find('shop', 'orders', { $or: [{ sku: 'a' }, { sku: 'c' }] }, { limit: 1 })).documents,
    ).toHaveLength(1);
    expect(
      await connection
        .getClient()
        .db(names.runtimeDataDb('shop'))
        .collection('orders')
        .countDocuments(),
    ).toBe(3);
  });

  it("keeps runtimes apart: one runtime never reads another's data", async () => {
    await save('other', 'orders', { sku: 'mine' });
    expect((await find('other', 'orders', {})).documents?.map((d) => d.sku)).toEqual(['mine']);
    expect((await find('shop', 'orders', { sku: 'mine' })).documents ?? []).toEqual([]);
  });

  it('refuses unsafe queries, bad collections, duplicate ids and garbage with BAD_REQUEST', async () => {
    expect(await find('shop', 'orders', { $where: 'sleep(100)' })).toMatchObject({
      errorCode: 'BAD_REQUEST',
      error: expect.stringContaining('operator $where is not allowed') as string,
    });
    expect(await find('shop', 'orders', { a: { $function: { body: 'x' } } })).toMatchObject({
      errorCode: 'BAD_REQUEST',
    });
    expect(await save('shop', 'system.profile', { a: 1 })).toMatchObject({
      errorCode: 'BAD_REQUEST',
    });
    expect(await save('shop', 'orders', { _id: 'fixed' })).toMatchObject({
      errorCode: 'BAD_REQUEST',
      error: expect.stringContaining('already exists') as string,
    });
    const garbage = decodeDataReply(
      (await nc.request(names.dataSubject('shop', 'save'), new Uint8Array([0xff, 0x01]))).data,
    );
    expect(garbage.errorCode).toBe('BAD_REQUEST');
    const badRuntime = decodeDataReply(
      (await nc.request(`${env.KRE_PREFIX}.Bad_Rt.data.save`, new Uint8Array())).data,
    );
    expect(badRuntime.error).toContain('is not a runtime id');
  });

  it('accepts gzip-compressed requests (large documents)', async () => {
    const big = 'z'.repeat(2 * 1024 * 1024);
    const body = compressToFit(
      encodeSaveRequest({ collection: 'big', document: { big } }),
      512 * 1024,
    );
    const reply = decodeDataReply((await nc.request(names.dataSubject('shop', 'save'), body)).data);
    expect(reply.error).toBeUndefined();
    const back = await find('shop', 'big', {});
    expect(back.error).toContain('above the NATS max payload');
  });
});
