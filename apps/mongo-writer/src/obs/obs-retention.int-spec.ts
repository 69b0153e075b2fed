import { Names } from '@libs/naming';
import { ObsRetentionStore } from '@libs/observability';
import { mongooseOptions } from '@libs/persistence';
import { testEnv, testPrefix } from '@libs/testing';
import mongoose, { type Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObsRetentionService } from './obs-retention.service.js';

describe(ObsRetentionService.name, () => {
  const env = testEnv();
  const names = new Names(env.KRE_PREFIX);
  const elsewhere = new Names(testPrefix()); // another installation on the same server
  let connection: Connection;
  let sut: ObsRetentionService;
  const now = new Date('2026-12-06T12:00:00Z');

  const db = (name: string) => connection.getClient().db(name);
  const create = async (database: string, collections: string[]) => {
    for (const c of collections)
      await db(database)
        .collection(c)
        .insertOne({ _id: 1 } as never);
  };
  const collections = async (database: string) =>
    (await db(database).listCollections({}, { nameOnly: true }).toArray())
      .map((c) => c.name)
      .sort();

  beforeAll(async () => {
    connection = await mongoose
      .createConnection(env.MONGO_URL, mongooseOptions(names.platformDb()))
      .asPromise();
    sut = new ObsRetentionService(connection, names, { defaultDays: 30, checkMs: 3_600_000 });
  });
  afterAll(async () => {
    for (const name of [
      names.runtimeDb('rta'),
      names.runtimeDb('rtb'),
      names.runtimeDataDb('rta'),
      elsewhere.runtimeDb('rta'),
      names.platformDb(),
    ])
      await db(name).dropDatabase();
    await connection.close();
  });

  it("drops each runtime's whole days past its retention (its own, else the default), nothing else", async () => {
    // Default 30 days at 2026-12-06T12:00: a day goes once it ended before 2026-11-06T12:00.
    await create(names.runtimeDb('rta'), [
      'logs_2026_11_05', // ended 2026-11-06T00:00: gone
      'metrics_2026_11_05',
      'logs_2026_11_06', // ends 2026-11-07T00:00: kept
      'predictions_2026_12_06',
      'logs_archive', // not a day collection
    ]);
    // rtb keeps 3 days: a day goes once it ended before 2026-12-03T12:00.
    await new ObsRetentionStore(db(names.platformDb())).set('rtb', 3, 'u1', now);
    await create(names.runtimeDb('rtb'), [
      'measurements_2026_12_02', // gone
      'logs_2026_12_03', // ends 2026-12-04T00:00: kept
      'logs_2026_11_30', // gone
    ]);
    // Never a runtime's data database, nor another installation's.
    await create(names.runtimeDataDb('rta'), ['logs_2020_01_01']);
    await create(elsewhere.runtimeDb('rta'), ['logs_2020_01_01']);

    const dropped = await sut.sweep(now);

    expect(dropped.map((d) => `${d.runtimeId}/${d.collection}`).sort()).toEqual([
      'rta/logs_2026_11_05',
      'rta/metrics_2026_11_05',
      'rtb/logs_2026_11_30',
      'rtb/measurements_2026_12_02',
    ]);
    expect(await collections(names.runtimeDb('rta'))).toEqual([
      'logs_2026_11_06',
      'logs_archive',
      'predictions_2026_12_06',
    ]);
    expect(await collections(names.runtimeDb('rtb'))).toEqual(['logs_2026_12_03']);
    expect(await collections(names.runtimeDataDb('rta'))).toEqual(['logs_2020_01_01']);
    expect(await collections(elsewhere.runtimeDb('rta'))).toEqual(['logs_2020_01_01']);
    // Nothing left to drop: a second sweep (another replica's) drops nothing.
    expect(await sut.sweep(now)).toEqual([]);
  });
});
