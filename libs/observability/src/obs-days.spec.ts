import { describe, expect, it } from 'vitest';
import {
  dayCollection,
  dayCollectionsBetween,
  isExpiredDay,
  parseDayCollection,
} from './obs-days.js';

describe(dayCollectionsBetween.name, () => {
  it('lists every UTC day of the range, newest first, both ends included', () => {
    expect(
      dayCollectionsBetween(
        'logs',
        new Date('2026-12-04T23:59:59Z'),
        new Date('2026-12-06T00:00:00Z'),
      ),
    ).toEqual(['logs_2026_12_06', 'logs_2026_12_05', 'logs_2026_12_04']);
  });

  it('gives nothing for a range that ends before it starts', () => {
    expect(
      dayCollectionsBetween('logs', new Date('2026-12-06T00:00:00Z'), new Date('2026-12-05Z')),
    ).toEqual([]);
  });
});

describe(parseDayCollection.name, () => {
  it('reads the kind and day back from a name dayCollection made', () => {
    const day = new Date('2026-02-28T00:00:00Z');
    expect(parseDayCollection(dayCollection('metrics', day))).toEqual({ kind: 'metrics', day });
  });

  it('ignores other collections and impossible days', () => {
    expect(parseDayCollection('logs')).toBeUndefined();
    expect(parseDayCollection('users_2026_01_01')).toBeUndefined();
    expect(parseDayCollection('logs_2026_02_30')).toBeUndefined();
  });
});

describe(isExpiredDay.name, () => {
  const day = new Date('2026-12-01T00:00:00Z');
  it('drops a day only once its last moment is older than the retention', () => {
    expect(isExpiredDay(day, 30, new Date('2026-12-31T23:59:59Z'))).toBe(false);
    expect(isExpiredDay(day, 30, new Date('2027-01-01T00:00:00Z'))).toBe(true);
  });
});

describe(dayCollection.name, () => {
  it('names one collection per kind and UTC day', () => {
    expect(dayCollection('predictions', new Date('2026-01-02T03:04:05+05:00'))).toBe(
      'predictions_2026_01_01',
    );
  });
});
