import { describe, expect, it } from 'vitest';
import {
  InvalidRecordError,
  RECORD_ID,
  RecordIds,
  decodeRecord,
  encodeRecord,
  formatRecordId,
  newRecordId,
  type Origin,
} from './records.js';
import {
  DataRequestError,
  decodeFindRequest,
  decodeSaveRequest,
  encodeFindRequest,
  encodeSaveRequest,
  validateQuery,
} from './data-requests.js';

const origin: Origin = {
  runtimeId: 'demo',
  version: 'v1',
  workflow: 'wf',
  node: 'etl',
  replica: 'r1',
};
const time = new Date('2024-05-01T10:00:00.000Z');

describe('observability records', () => {
  it('encodes and validates each kind', () => {
    expect(
      decodeRecord(
        'logs',
        encodeRecord('logs', {
          time,
          origin,
          level: 'WARN',
          message: 'hi',
          source: 'LOGGER',
          requestId: 'r',
          fields: { a: 1 },
        }),
      ),
    ).toEqual({
      time: '2024-05-01T10:00:00Z',
      origin,
      level: 'LOG_LEVEL_WARN',
      message: 'hi',
      requestId: 'r',
      source: 'LOG_SOURCE_LOGGER',
      fields: { a: 1 },
    });
    const metric = decodeRecord(
      'metrics',
      encodeRecord('metrics', {
        start: time,
        end: new Date(time.getTime() + 1000),
        origin,
        fromNode: 'entrypoint',
        count: 3,
        errors: 1,
        elapsedMsSum: 6,
        elapsedMsMax: 4,
        bucketBoundsMs: [1, 5],
        bucketCounts: [1, 2, 0],
      }),
    );
    expect(metric).toMatchObject({ count: '3', errors: '1', bucketCounts: ['1', '2', '0'] });
    expect(
      decodeRecord(
        'predictions',
        encodeRecord('predictions', { time, origin, predictedValue: 'a', trueValue: 'b' }),
      ),
    ).toMatchObject({
      predictedValue: 'a',
    });
    expect(
      decodeRecord(
        'predictions',
        encodeRecord('predictions', { time, origin, error: 'NEW_LABELS' }),
      ),
    ).toMatchObject({
      error: 'PREDICTION_ERROR_NEW_LABELS',
    });
    expect(
      decodeRecord(
        'measurements',
        encodeRecord('measurements', {
          time,
          origin,
          name: 'm',
          fields: { x: 1, ok: true },
          tags: { t: 'v' },
        }),
      ),
    ).toMatchObject({ name: 'm', fields: { x: 1, ok: true }, tags: { t: 'v' } });
  });

  it.each([
    [
      'logs',
      {
        time,
        origin: { ...origin, runtimeId: 'Bad Id' },
        level: 'INFO',
        message: 'x',
        source: 'LOGGER',
      },
      'origin.runtimeId: must be a slug',
    ],
    ['logs', { time, origin, level: 'INFO', message: '', source: 'LOGGER' }, 'message'],
    [
      'predictions',
      { time, origin, predictedValue: 'a' },
      'predictedValue and trueValue are required',
    ],
    ['measurements', { time, origin, name: 'm', fields: {} }, 'at least one field is required'],
    [
      'metrics',
      {
        start: time,
        end: time,
        origin,
        fromNode: 'a',
        count: 2,
        errors: 0,
        elapsedMsSum: 1,
        elapsedMsMax: 1,
        bucketBoundsMs: [1],
        bucketCounts: [1, 0],
      },
      'bucketCounts must add up to count',
    ],
  ] as const)('refuses an invalid %s record', (kind, record, problem) => {
    expect(() => encodeRecord(kind, record as never)).toThrow(InvalidRecordError);
    expect(() => encodeRecord(kind, record as never)).toThrow(problem);
  });

  it('carries the producer-made id, and refuses one not in its format', () => {
    const id = newRecordId();
    expect(id).toMatch(RECORD_ID);
    const log = { time, origin, level: 'INFO', message: 'm', source: 'DEPLOYER' } as const;
    expect(decodeRecord('logs', encodeRecord('logs', { ...log, id }))).toMatchObject({
      id,
      source: 'LOG_SOURCE_DEPLOYER',
    });
    expect(decodeRecord('logs', encodeRecord('logs', log))).not.toHaveProperty('id');
    expect(() => encodeRecord('logs', { ...log, id: 'not-an-id' })).toThrow(/id: must be 26/);
  });

  it('makes ids unique within a process, in emission order, never going back in time', () => {
    const clock = [5, 5, 4, 7];
    const sut = new RecordIds(9, () => clock.shift() ?? 0);
    const made = [sut.next(), sut.next(), sut.next(), sut.next()];
    expect(made).toEqual([
      formatRecordId(5, 9, 0),
      formatRecordId(5, 9, 1),
      formatRecordId(5, 9, 2), // the clock stepped back: the id keeps the last time
      formatRecordId(7, 9, 3),
    ]);
    expect([...made].sort()).toEqual(made);
    // Crockford base32, 10 + 8 + 8 characters; the largest values still fit.
    expect(formatRecordId(2 ** 48 - 1, 2 ** 40 - 1, 2 ** 40 - 1)).toBe(
      '7ZZZZZZZZZZZZZZZZZZZZZZZZZ',
    );
    expect(formatRecordId(1767323045678, 0x0123456789, 42)).toMatch(RECORD_ID);
    // Two processes (a restarted replica keeps its name) draw different random parts.
    expect(
      new Set(Array.from({ length: 20 }, () => new RecordIds().next().slice(10, 18))).size,
    ).toBeGreaterThan(1);
  });

  it('refuses bytes that are not a record', () => {
    expect(() => decodeRecord('logs', Buffer.from([0xff, 0xff, 0xff]))).toThrow(InvalidRecordError);
  });
});

describe('data requests', () => {
  it('round-trip save and find requests', () => {
    expect(
      decodeSaveRequest(encodeSaveRequest({ collection: 'things', document: { a: { b: [1] } } })),
    ).toEqual({
      collection: 'things',
      document: { a: { b: [1] } },
    });
    expect(
      decodeFindRequest(
        encodeFindRequest({ collection: 'things', query: { a: { $gt: 1 } }, sort: { a: -1 } }),
      ),
    ).toEqual({ collection: 'things', query: { a: { $gt: 1 } }, limit: 100, sort: { a: -1 } });
  });

  it.each([
    [{ $where: 'sleep(1000)' }, 'operator $where is not allowed'],
    [{ a: { $function: {} } }, 'operator $function is not allowed in db.find (at a.$function)'],
    [{ $expr: { $eq: [1, 1] } }, 'operator $expr is not allowed'],
    [{ $or: [{ a: 1 }, { b: { $accumulator: {} } }] }, 'operator $accumulator is not allowed'],
    [{ 'a.$b': 1 }, 'field name "a.$b" is not allowed'],
    [{ a: { $regex: 'x', $options: 'e' } }, '$options may only hold the flags'],
  ])('refuses the query %j', (query, message) => {
    expect(() => validateQuery(query)).toThrow(DataRequestError);
    expect(() => validateQuery(query)).toThrow(message);
  });

  it('accepts the safe operators', () => {
    const query = {
      $or: [{ a: { $in: [1, 2] } }, { b: { $regex: '^x', $options: 'i' } }],
      c: { $exists: true },
    };
    expect(validateQuery(query)).toBe(query);
  });

  it('refuses bad collections and documents', () => {
    expect(() => encodeSaveRequest({ collection: 'system.users', document: {} })).not.toThrow();
    expect(() =>
      decodeSaveRequest(encodeSaveRequest({ collection: 'system.users', document: {} })),
    ).toThrow('collection "system.users" is not allowed');
    expect(() =>
      decodeSaveRequest(encodeSaveRequest({ collection: 'ok', document: { $set: 1 } })),
    ).toThrow('field name "$set" is not allowed in a document');
  });
});
