import { type LogLevel, type LogSource, decodeRecord, encodeRecord } from '@libs/messaging';
import { describe, expect, it } from 'vitest';
import { LogRecordEncoder } from './log-record.encoder.js';

const origin = {
  runtimeId: 'rt-1',
  version: 'v2',
  workflow: 'wf',
  node: 'n-1',
  replica: 'host-42',
};

describe(LogRecordEncoder.name, () => {
  const sut = new LogRecordEncoder(origin);
  const cases: {
    id: string;
    time: number;
    level: LogLevel;
    message: string;
    source: LogSource;
    requestId?: string;
  }[] = [
    {
      id: '01JEZ0000000000000000000AB',
      time: Date.parse('2026-12-06T19:40:01.234Z'),
      level: 'INFO',
      message: 'scored: label=cat',
      source: 'LOGGER',
      requestId: '0b6c3c3e-3f0e-4b7e-9a53-111111111111',
    },
    {
      id: '01JEZ0000000000000000000AC',
      time: Date.parse('2026-12-06T19:40:01.000Z'), // no nanos
      level: 'ERROR',
      message: 'ünïcödé ✓ and a\nsecond line',
      source: 'STDERR',
    },
    {
      id: '01JEZ0000000000000000000AD',
      time: 0,
      level: 'DEBUG',
      message: 'epoch',
      source: 'RUNNER',
    },
    {
      id: '01JEZ0000000000000000000AE',
      time: 1_999,
      level: 'WARN',
      message: 'x'.repeat(16 * 1024),
      source: 'STDOUT',
    },
  ];

  it.each(cases)('writes the bytes encodeRecord writes ($level, $source)', (record) => {
    const bytes = sut.encode(record);
    const general = encodeRecord('logs', { ...record, time: new Date(record.time), origin });
    expect(Buffer.from(bytes).toString('hex')).toBe(Buffer.from(general).toString('hex'));
    expect(decodeRecord('logs', bytes)).toMatchObject({ id: record.id, message: record.message });
  });

  it('refuses an origin receivers would refuse, naming the field', () => {
    expect(() => new LogRecordEncoder({ ...origin, runtimeId: 'Not A Slug' })).toThrow(/runtimeId/);
  });
});
