import { testEnv } from '@libs/testing';
import mongoose, { type Connection, Schema } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mongooseOptions } from './persistence.module.js';

interface Widget {
  _id: string;
  name: string;
  count: number;
  tags: string[];
}

const widgetSchema = new Schema<Widget>(
  {
    _id: String,
    name: { type: String, required: true },
    count: { type: Number, default: 0 },
    tags: [String],
  },
  { versionKey: false },
);
widgetSchema.index({ name: 1 }, { unique: true });

describe('mongoose against the MongoDB-wire server', () => {
  const env = testEnv();
  let connection: Connection;

  beforeAll(async () => {
    connection = await mongoose
      .createConnection(env.MONGO_URL, mongooseOptions(`${env.KRE_PREFIX}`))
      .asPromise();
  });
  afterAll(async () => {
    await connection.dropDatabase();
    await connection.close();
  });

  it('writes a document and reads it back by _id', async () => {
    const Widgets = connection.model<Widget>('Widget', widgetSchema);
    await Widgets.init();
    await Widgets.create({ _id: 'rt:v1', name: 'first', tags: ['a'] });
    const found = await Widgets.findById('rt:v1').lean().exec();
    expect(found).toEqual({ _id: 'rt:v1', name: 'first', count: 0, tags: ['a'] });
  });

  it('enforces a unique index', async () => {
    const Widgets = connection.model<Widget>('Widget');
    await expect(Widgets.create({ _id: 'other', name: 'first' })).rejects.toMatchObject({
      code: 11000,
    });
  });

  it('updates one document with a filter and reads the result', async () => {
    const Widgets = connection.model<Widget>('Widget');
    await Widgets.create({ _id: 'upd', name: 'upd', count: 0 });
    const after = await Widgets.findOneAndUpdate(
      { _id: 'upd', count: 0 },
      { $inc: { count: 2 }, $push: { tags: 'x' } },
      { returnDocument: 'after' },
    )
      .lean()
      .exec();
    expect(after).toMatchObject({ count: 2, tags: ['x'] });
    const miss = await Widgets.findOneAndUpdate(
      { _id: 'upd', count: 0 },
      { $inc: { count: 1 } },
    ).exec();
    expect(miss).toBeNull();
  });

  it('bulk-inserts and counts', async () => {
    const Widgets = connection.model<Widget>('Widget');
    const docs = Array.from({ length: 500 }, (_, i) => ({
      _id: `bulk-${i}`,
      name: `bulk-${i}`,
      count: i,
    }));
    const inserted = await Widgets.insertMany(docs, { ordered: false });
    expect(inserted).toHaveLength(500);
    expect(await Widgets.countDocuments({ _id: { $regex: '^bulk-' } })).toBe(500);
    expect(await Widgets.countDocuments({ count: { $gte: 250 }, name: { $regex: '^bulk-' } })).toBe(
      250,
    );
  });

  it('keeps runtime databases apart through useDb', async () => {
    const a = connection
      .useDb(`${env.KRE_PREFIX}_rta`, { useCache: true })
      .model<Widget>('Widget', widgetSchema);
    const b = connection
      .useDb(`${env.KRE_PREFIX}_rtb`, { useCache: true })
      .model<Widget>('Widget', widgetSchema);
    await a.create({ _id: 'only-in-a', name: 'a' });
    expect(await b.findById('only-in-a').exec()).toBeNull();
    await Promise.all([a.db.dropDatabase(), b.db.dropDatabase()]);
  });
});
