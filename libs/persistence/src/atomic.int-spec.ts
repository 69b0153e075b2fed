import { testEnv } from '@libs/testing';
import mongoose, { type Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumeOnce, withLease } from './atomic.js';
import { mongooseOptions } from './persistence.module.js';

const CONTENDERS = 8;

describe('atomic primitives under concurrency', () => {
  const env = testEnv();
  let connection: Connection;
  const tokens = () => connection.db!.collection<{ _id: string; email: string }>('tokens');
  const locks = () => connection.db!.collection<{ _id: string; expiresAt: Date }>('locks');

  beforeAll(async () => {
    connection = await mongoose
      .createConnection(env.MONGO_URL, mongooseOptions(env.KRE_PREFIX))
      .asPromise();
  });
  afterAll(async () => {
    await connection.dropDatabase();
    await connection.close();
  });

  it('consumeOnce: exactly one of many concurrent consumers gets the document', async () => {
    for (let round = 0; round < 10; round++) {
      await tokens().insertOne({ _id: `t${round}`, email: 'a@b.c' });
      const results = await Promise.all(
        Array.from({ length: CONTENDERS }, () => consumeOnce(tokens(), `t${round}`)),
      );
      expect(results.filter((r) => r !== null)).toEqual([{ _id: `t${round}`, email: 'a@b.c' }]);
      expect(await tokens().findOne({ _id: `t${round}` })).toBeNull();
    }
  });

  it('withLease: concurrent read-check-writes on one document never interleave', async () => {
    const counters = connection.db!.collection<{ _id: string; n: number }>('counters');
    await counters.insertOne({ _id: 'c', n: 0 });
    const increment = async () => {
      for (;;) {
        const result = await withLease(locks(), 'c', async () => {
          const doc = await counters.findOne({ _id: 'c' });
          await counters.updateOne({ _id: 'c' }, { $set: { n: doc!.n + 1 } });
        });
        if (result.acquired) return;
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    await Promise.all(Array.from({ length: CONTENDERS }, increment));
    expect((await counters.findOne({ _id: 'c' }))?.n).toBe(CONTENDERS);
  });

  it('withLease: a lease left by a crashed holder is taken over after it expires', async () => {
    let clock = new Date('2026-01-01T00:00:00Z');
    const now = () => clock;
    await locks().insertOne({ _id: 'stale', expiresAt: new Date(clock.getTime() + 1_000) });
    expect(await withLease(locks(), 'stale', () => Promise.resolve(1), { now })).toEqual({
      acquired: false,
    });
    clock = new Date(clock.getTime() + 2_000);
    expect(await withLease(locks(), 'stale', () => Promise.resolve(2), { now })).toEqual({
      acquired: true,
      value: 2,
    });
    expect(await locks().findOne({ _id: 'stale' })).toBeNull();
  });
});
