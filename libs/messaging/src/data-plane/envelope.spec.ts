import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compressToFit, decompressIfNeeded, isGzip, PayloadTooLargeError } from './compression.js';
import { InvalidMessageError, MessageType, decodeEnvelope, encodeEnvelope } from './envelope.js';
import { PayloadCodec, PayloadError } from './payload.js';
import { kreProtos } from './proto-root.js';

describe('the envelope (kre.nats.KreNatsMessage)', () => {
  const codec = new PayloadCodec();

  it('round-trips, with KRE field numbers', () => {
    const payload = codec.pack({ hello: 'world' });
    const bytes = encodeEnvelope({
      requestId: 'r1',
      fromNode: 'etl',
      messageType: MessageType.EARLY_REPLY,
      payload,
    });
    expect(decodeEnvelope(bytes)).toEqual({
      requestId: 'r1',
      fromNode: 'etl',
      messageType: MessageType.EARLY_REPLY,
      payload,
    });
    // KRE's field numbers: request_id 1, payload 2, error 3, from_node 4, message_type 5.
    const type = kreProtos().lookupType('kre.nats.KreNatsMessage');
    expect(Object.fromEntries(type.fieldsArray.map((f) => [f.name, f.id]))).toEqual({
      request_id: 1,
      payload: 2,
      error: 3,
      from_node: 4,
      message_type: 5,
    });
  });

  it('reads a KRE-era UNDEFINED type as OK', () => {
    const bytes = encodeEnvelope({
      requestId: 'r',
      fromNode: 'n',
      messageType: MessageType.UNDEFINED,
    });
    expect(decodeEnvelope(bytes).messageType).toBe(MessageType.OK);
  });

  it.each([
    [Buffer.from('not protobuf at all, just text'), 'invalid message'],
    [
      encodeEnvelope({ requestId: '', fromNode: 'n', messageType: MessageType.OK }),
      'request_id is empty',
    ],
    [
      encodeEnvelope({ requestId: 'r', fromNode: '', messageType: MessageType.OK }),
      'from_node is empty',
    ],
    [
      encodeEnvelope({ requestId: 'r', fromNode: 'n', messageType: MessageType.ERROR }),
      'without an error text',
    ],
    [
      encodeEnvelope({ requestId: 'r', fromNode: 'n', messageType: 9 as MessageType }),
      'unknown message_type 9',
    ],
  ])('refuses %#: %s', (bytes, message) => {
    expect(() => decodeEnvelope(bytes)).toThrow(InvalidMessageError);
    expect(() => decodeEnvelope(bytes)).toThrow(message);
  });
});

describe('payloads', () => {
  const codec = new PayloadCodec();

  it('objects travel as Struct, other JSON as Value, Buffers as BytesValue', () => {
    expect(codec.pack({ a: 1 }).type_url).toBe('type.googleapis.com/google.protobuf.Struct');
    expect(codec.pack('text').type_url).toBe('type.googleapis.com/google.protobuf.Value');
    expect(codec.pack([1, 2]).type_url).toBe('type.googleapis.com/google.protobuf.Value');
    expect(codec.pack(Buffer.from('hi')).type_url).toBe(
      'type.googleapis.com/google.protobuf.BytesValue',
    );
    for (const value of [{ a: { b: [1, 'x', null, false] } }, 'text', 42, null, [1, { c: 2 }]])
      expect(codec.unpack(codec.pack(value))).toEqual(value);
    expect(codec.unpack(codec.pack(Buffer.from([0, 255])))).toEqual(Buffer.from([0, 255]));
  });

  it('follows JSON.stringify for dates and undefined, and refuses what JSON cannot carry', () => {
    const date = new Date('2024-01-01T00:00:00Z');
    expect(codec.unpack(codec.pack({ at: date, gone: undefined }))).toEqual({
      at: date.toISOString(),
    });
    expect(() => codec.pack({ n: 10n })).toThrow(PayloadError);
    expect(() => codec.pack({ n: NaN })).toThrow('NaN at n cannot be sent as JSON');
    expect(() => codec.pack({ b: Buffer.from('x') })).toThrow(
      'bytes at b cannot travel inside an object',
    );
    expect(() => codec.pack({ m: new Map() })).toThrow('a Map at m cannot be sent as JSON');
  });

  it('refuses an unknown type url', () => {
    expect(() =>
      codec.unpack({ type_url: 'type.googleapis.com/x.Y', value: new Uint8Array() }),
    ).toThrow('unknown message type "x.Y"');
  });
});

describe('compression', () => {
  it('leaves small payloads alone, gzips large ones, refuses what does not fit', () => {
    const small = Buffer.from('small');
    expect(compressToFit(small, 100)).toBe(small);
    const large = Buffer.alloc(100_000, 'a');
    const packed = compressToFit(large, 10_000);
    expect(isGzip(packed)).toBe(true);
    expect(Buffer.from(decompressIfNeeded(packed))).toEqual(large);
    const random = randomBytes(20_000);
    expect(() => compressToFit(random, 10_000, 'the output of node "x"')).toThrow(
      PayloadTooLargeError,
    );
    expect(() => compressToFit(random, 10_000, 'the output of node "x"')).toThrow(
      /the output of node "x" is 20000 bytes \(\d+ gzip-compressed\), above the NATS max payload of 10000 bytes/,
    );
  });

  it('an envelope never looks gzipped', () => {
    const bytes = encodeEnvelope({ requestId: 'r', fromNode: 'n', messageType: MessageType.OK });
    expect(isGzip(bytes)).toBe(false);
  });

  it('refuses a gzip bomb above the limit', () => {
    const bomb = compressToFit(Buffer.alloc(1_000_000), 10_000);
    expect(() => decompressIfNeeded(bomb, 1_000)).toThrow('invalid gzip payload');
  });
});
