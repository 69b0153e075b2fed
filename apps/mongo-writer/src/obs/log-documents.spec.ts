import { describe, expect, it } from 'vitest';
import {
  type LogRecordInput,
  decodeRecord,
  encodeRecord,
  kreProtos,
  newRecordId,
} from '@libs/messaging';
import { logWrite } from './log-documents.js';
import { type ObsWrite, toObsWrite } from './obs-documents.js';

const RUNTIME = 'rt';
const origin = { runtimeId: RUNTIME, version: 'v1', workflow: 'wf', node: 'n1', replica: 'r-1' };
const received = new Date('2026-12-06T08:00:00Z');
const LogRecord = kreProtos().lookupType('kre.records.LogRecord');

/** What mongo-writer stored before the direct reader: the general path. */
function general(bytes: Uint8Array, sequence: number): ObsWrite {
  const record = decodeRecord('logs', bytes);
  if ((record.origin as { runtimeId?: unknown }).runtimeId !== RUNTIME)
    throw new Error('another runtime');
  return toObsWrite('logs', sequence, record, received);
}

/** Keys in order, all the way down (the stored BSON keeps this order). */
function shape(value: unknown): unknown {
  if (value instanceof Date) return `Date(${value.getTime()})`;
  if (Array.isArray(value)) return value.map(shape);
  if (value !== null && typeof value === 'object')
    return Object.entries(value).map(([k, v]) => [k, shape(v)]);
  return value;
}

/** Raw protobuf (proto field names), for what encodeRecord would not make. */
const raw = (message: Record<string, unknown>) =>
  LogRecord.encode(LogRecord.create(message)).finish();
const rawOrigin = {
  runtime_id: RUNTIME,
  version: 'v1',
  workflow: 'wf',
  node: 'n1',
  replica: 'r-1',
};
const struct = (fields: Record<string, unknown>) => ({ fields });

describe(logWrite.name, () => {
  const base: LogRecordInput = {
    id: newRecordId(),
    time: new Date('2026-12-05T23:59:59.999Z'),
    origin,
    level: 'INFO',
    message: 'request handled',
    source: 'LOGGER',
  };
  const valid: [string, Uint8Array][] = [
    ['the plainest record', encodeRecord('logs', base)],
    ['no id (an older producer)', encodeRecord('logs', { ...base, id: undefined })],
    [
      'the entrypoint (no workflow), a request id',
      encodeRecord('logs', { ...base, origin: { ...origin, workflow: '' }, requestId: 'req-1' }),
    ],
    ...(['DEBUG', 'INFO', 'WARN', 'ERROR'] as const).map(
      (level) =>
        [`level ${level}`, encodeRecord('logs', { ...base, level })] as [string, Uint8Array],
    ),
    ...(
      ['LOGGER', 'STDOUT', 'STDERR', 'RUNNER', 'DEPLOYER', 'ENTRYPOINT', 'INGESTION'] as const
    ).map(
      (source) =>
        [`source ${source}`, encodeRecord('logs', { ...base, source })] as [string, Uint8Array],
    ),
    [
      'fields of every kind, nested, with keys the database refuses',
      encodeRecord('logs', {
        ...base,
        message: 'ünïcode ✓ 𝄞',
        fields: {
          i: 7,
          half: -0.5,
          ok: true,
          no: false,
          none: null,
          text: 'x',
          'a.b': 1,
          $set: { 'c.d': [1, 'two', null, { $e: false }, []] },
          empty: {},
          list: [],
        },
      }),
    ],
    ['empty fields', encodeRecord('logs', { ...base, fields: {} })],
    [
      'a time with micro- and nanoseconds',
      raw({
        id: newRecordId(),
        time: { seconds: 1_765_000_000, nanos: 123_456_789 },
        origin: rawOrigin,
        level: 2,
        message: 'm',
        source: 1,
      }),
    ],
    [
      'a time of whole seconds, an unknown field',
      new Uint8Array([
        ...raw({
          time: { seconds: 1_765_000_000 },
          origin: rawOrigin,
          level: 2,
          message: 'm',
          source: 1,
        }),
        ...[0x48, 0x05], // field 9, varint 5: from a newer producer
      ]),
    ],
    [
      'a Value with no kind set, a repeated key',
      new Uint8Array([
        ...raw({
          time: { seconds: 1_765_000_000 },
          origin: rawOrigin,
          level: 2,
          message: 'm',
          source: 1,
          fields: struct({ unset: {}, k: { stringValue: 'first' } }),
        }),
      ]),
    ],
  ];

  // Written by the Python runner (runners/python/src/kre_runner/obs.py): its byte-by-byte
  // LogRecordEncoder (nanosecond times, no workflow for the entrypoint) and, for a record with
  // fields, protobuf's SerializeToString (map entries in its own order).
  const python = [
    '0a0b08c086cfc90610959aef3a12150a027274120276311a02776622026e312a03722d3118032209706c61696e20e29c932a057265712d313002421a30314b445a3041424344454647484a4b4d4e5051525354565758',
    '0a0608c086cfc90612110a0272741202763122026e312a03722d311802220a656e747279706f696e743001421a30314b445a3041424344454647484a4b4d4e5051525354565759',
    '0a0c08c086cfc90610b1d1f9d60312150a027274120276311a02776622026e312a03722d311804220b77697468206669656c64732a057265712d3230013a9e010a080a017312031a01780a0b0a05656d70747912022a000a0e0a01691209110000000000001c400a0a0a046e6f6e65120208000a0e0a0166120911000000000000e0bf0a100a03612e62120911000000000000f03f0a080a026f6b120220010a3d0a042473657412352a330a310a03632e64122a32280a0911000000000000f03f0a051a0374776f0a0208000a0c2a0a0a080a022465120220000a023200421a30314b445a3041424344454647484a4b4d4e505152535456575a',
  ];
  valid.push(
    ...python.map(
      (hex, i) =>
        [`the Python runner's record ${i + 1}`, Buffer.from(hex, 'hex')] as [string, Uint8Array],
    ),
  );

  it.each(valid)('stores %s as the general path does, keys in the same order', (_, bytes) => {
    const fast = logWrite(bytes, 42, RUNTIME);
    expect(fast).toBeDefined();
    const expected = general(bytes, 42);
    expect(fast).toEqual(expected);
    expect(shape(fast)).toEqual(shape(expected));
  });

  const bytesOf = (message: Record<string, unknown>) =>
    raw({
      time: { seconds: 1_765_000_000 },
      origin: rawOrigin,
      level: 2,
      message: 'm',
      source: 1,
      ...message,
    });
  const invalid: [string, Uint8Array][] = [
    ['a blank message', bytesOf({ message: '' })],
    ['no level', bytesOf({ level: 0 })],
    ['an unknown level', bytesOf({ level: 9 })],
    ['an unknown source', bytesOf({ source: 99 })],
    ['an id that is not one', bytesOf({ id: 'not-an-id' })],
    ['no time', bytesOf({ time: null })],
    ['no origin', bytesOf({ origin: null })],
    ['another runtime', bytesOf({ origin: { ...rawOrigin, runtime_id: 'other' } })],
    ['a version that is not a slug', bytesOf({ origin: { ...rawOrigin, version: 'V 1' } })],
    ['no replica', bytesOf({ origin: { ...rawOrigin, replica: '' } })],
    ['a time past 9999', bytesOf({ time: { seconds: 253_402_300_800 } })],
    [
      'a field that is not a number',
      bytesOf({ fields: struct({ x: { numberValue: Number.NaN } }) }),
    ],
    ['truncated bytes', encodeRecord('logs', base).subarray(0, 20)],
    ['a length-delimited field sent as a varint', new Uint8Array([0x22, 0x01])],
  ];

  it.each(invalid)('leaves %s to the general path, which refuses it', (_, bytes) => {
    expect(logWrite(bytes, 1, RUNTIME)).toBeUndefined();
    expect(() => general(bytes, 1)).toThrow();
  });

  const unusual: [string, Uint8Array][] = [
    ['a time before 1970', bytesOf({ time: { seconds: -86_400, nanos: 5 } })],
    [
      'a field sent twice (protobuf: the last wins)',
      new Uint8Array([...bytesOf({}), ...[0x22, 0x01, 0x7a]]), // message = "z" again
    ],
    [
      'a Value with two kinds',
      bytesOf({ fields: struct({ x: { stringValue: 's', boolValue: true } }) }),
    ],
  ];

  it.each(unusual)('leaves %s to the general path, which stores it', (_, bytes) => {
    expect(logWrite(bytes, 1, RUNTIME)).toBeUndefined();
    expect(general(bytes, 1).document).toBeDefined();
  });
});
