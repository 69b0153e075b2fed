import { Names } from '@libs/naming';
import { mongooseOptions } from '@libs/persistence';
import { testEnv } from '@libs/testing';
import mongoose, { type Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObsRecordsRepository } from './obs-records.repository.js';

describe(ObsRecordsRepository.name, () => {
  const env = testEnv();
  const names = new Names(env.KRE_PREFIX);
  let connection: Connection;
  let sut: ObsRecordsRepository;
  const db = () => connection.getClient().db(names.runtimeDb('rt'));

  beforeAll(async () => {
    connection = await mongoose
      .createConnection(env.MONGO_URL, mongooseOptions(names.platformDb()))
      .asPromise();
    sut = new ObsRecordsRepository(connection, names);
  });
  afterAll(async () => {
    await db().dropDatabase();
    await connection.close();
  });

  it("indexes each day collection it writes for admin-api's newest-first reads", async () => {
    const result = await sut.insertBatch('rt', [
      { collection: 'logs_2026_12_05', document: { _id: 1, time: new Date('2026-12-05Z') } },
      { collection: 'metrics_2026_12_05', document: { _id: 2, end: new Date('2026-12-05Z') } },
    ]);
    expect(result).toEqual({ inserted: 2, duplicates: 0, refused: [] });
    const keys = async (collection: string) =>
      (await db().collection(collection).listIndexes().toArray()).map(
        (i) => (i as { key: object }).key,
      );
    expect(await keys('logs_2026_12_05')).toContainEqual({ time: -1, _id: -1 });
    expect(await keys('metrics_2026_12_05')).toContainEqual({ end: -1, _id: -1 });
  });
});
