import { describe, expect, it } from 'vitest';
import { kindOfSubject, toObsWrite } from './obs-documents.js';

describe(toObsWrite.name, () => {
  const received = new Date('2026-12-06T08:00:00Z');
  const origin = { runtimeId: 'rt', version: 'v1', workflow: 'wf', node: 'n', replica: 'r' };

  it('files a record under its own UTC day, keyed by its stream sequence', () => {
    const sut = toObsWrite(
      'logs',
      42,
      {
        time: '2026-12-05T23:59:59.999Z',
        origin,
        level: 'LOG_LEVEL_WARN',
        message: 'm',
        source: 'LOG_SOURCE_STDERR',
      },
      received,
    );
    expect(sut).toEqual({
      collection: 'logs_2026_12_05',
      document: {
        _id: 42,
        time: new Date('2026-12-05T23:59:59.999Z'),
        origin,
        level: 'WARN',
        message: 'm',
        source: 'STDERR',
      },
    });
  });

  it('keys a record by the id its producer made, which is not stored twice', () => {
    const id = '01KDZ0ABCDEFGHJKMNPQRSTVWX';
    const sut = toObsWrite(
      'predictions',
      7,
      { id, time: '2026-12-06T10:00:00Z', origin, predictedValue: 'a', trueValue: 'b' },
      received,
    );
    expect(sut.document).toEqual({
      _id: id,
      time: new Date('2026-12-06T10:00:00Z'),
      origin,
      predictedValue: 'a',
      trueValue: 'b',
    });
  });

  it("files node metrics by their window's end, with counts as numbers", () => {
    const sut = toObsWrite(
      'metrics',
      7,
      {
        start: '2026-12-06T23:59:58Z',
        end: '2026-12-07T00:00:03Z',
        origin,
        fromNode: 'entrypoint',
        count: '3',
        errors: '1',
        bucketBoundsMs: [10],
        bucketCounts: ['2', '1'],
      },
      received,
    );
    expect(sut.collection).toBe('metrics_2026_12_07');
    expect(sut.document).toMatchObject({ count: 3, errors: 1, bucketCounts: [2, 1] });
  });

  it("keeps free-form keys the database refuses ('.' anywhere, a leading '$') as full-width", () => {
    const sut = toObsWrite(
      'logs',
      1,
      { time: '2026-12-06T00:00:00Z', origin, fields: { 'http.status': 200, $x: { 'a.b': [1] } } },
      received,
    );
    expect(sut.document.fields).toEqual({
      'http\uff0estatus': 200,
      '\uff04x': { 'a\uff0eb': [1] },
    });
  });

  it("falls back to the stream's timestamp for an unreadable time", () => {
    expect(toObsWrite('measurements', 1, { time: 'soon', origin }, received).collection).toBe(
      'measurements_2026_12_06',
    );
  });
});

describe(kindOfSubject.name, () => {
  it("reads the kind from the subject's last token", () => {
    expect(kindOfSubject('kre.rt.obs.logs')).toBe('logs');
    expect(kindOfSubject('kre.rt.obs.other')).toBeUndefined();
  });
});
