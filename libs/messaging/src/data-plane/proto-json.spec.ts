import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadProtoRoot } from './proto-root.js';
import { ProtoJsonError, decodeToJson, encodeFromJson } from './proto-json.js';

const dir = fileURLToPath(new URL('./fixtures/protos/', import.meta.url));
const root = loadProtoRoot(`${dir}kitchen.proto`, [dir]);
const Order = root.lookupType('shop.Order');

const full = {
  orderId: 'o-1',
  big: '-9223372036854775808',
  ubig: '18446744073709551615',
  small: -7,
  ratio: 0.25,
  weight: 1.1,
  paid: true,
  blob: Buffer.from([0, 1, 2, 250, 255]).toString('base64'),
  color: 'GREEN',
  items: [{ skuCode: 'A', price: { currency: 'EUR', units: '12', nanos: 500 }, tags: ['x', 'y'] }],
  counts: { a: 1, b: 2 },
  byId: { '9007199254740993': 'big key' },
  email: 'a@b.c',
  createdAt: '2024-02-29T23:59:59.123456789Z',
  ttl: '-1.500s',
  meta: { nested: { list: [1, 'two', null, true] }, n: 3.5 },
  maybeBig: '12345678901234567',
  note: '',
  extra: { '@type': 'type.googleapis.com/shop.Item', skuCode: 'Z', tags: [] },
  mask: 'skuCode,price.currency',
  anything: ['a', { b: null }],
  opt: 0,
  nothing: {},
  palette: ['RED', 'COLOR_UNSPECIFIED'],
  customName: 4,
};

/** What the mapping emits: defaults omitted, so the empty list in the Any goes away. */
const emitted = {
  ...full,
  extra: { '@type': 'type.googleapis.com/shop.Item', skuCode: 'Z' },
  ttl: '-1.500s',
};

describe('proto3 JSON mapping', () => {
  it('round-trips every kind of field exactly (int64 as strings, bytes, WKT, maps, oneof)', () => {
    const bytes = encodeFromJson(Order, full);
    expect(decodeToJson(Order, bytes)).toEqual(emitted);
  });

  it('omits defaults unless asked, and fills them in when asked (handler view)', () => {
    const bytes = encodeFromJson(Order, { orderId: 'x' });
    expect(decodeToJson(Order, bytes)).toEqual({ orderId: 'x' });
    const withDefaults = decodeToJson(Order, bytes, { emitDefaults: true }) as Record<
      string,
      unknown
    >;
    expect(withDefaults).toMatchObject({
      orderId: 'x',
      big: '0',
      paid: false,
      blob: '',
      color: 'COLOR_UNSPECIFIED',
      items: [],
      counts: {},
      customName: 0,
    });
    // Fields with presence stay absent: messages, oneof members, proto3 optional.
    expect(withDefaults).not.toHaveProperty('createdAt');
    expect(withDefaults).not.toHaveProperty('email');
    expect(withDefaults).not.toHaveProperty('opt');
  });

  it('accepts proto field names, numbers as strings, enum numbers, and offsets in timestamps', () => {
    const bytes = encodeFromJson(Order, {
      order_id: 'o',
      small: '-3',
      color: 1,
      created_at: '2024-01-01T01:00:00+01:00',
      ratio: 'Infinity',
    });
    expect(decodeToJson(Order, bytes)).toEqual({
      orderId: 'o',
      small: -3,
      color: 'RED',
      createdAt: '2024-01-01T00:00:00Z',
      ratio: 'Infinity',
    });
  });

  it.each([
    [{ nope: 1 }, 'nope: unknown field of shop.Order'],
    [{ small: 1.5 }, 'small: must be an integer (sint32)'],
    [{ small: 2 ** 31 }, 'out of range for sint32'],
    [{ big: 2 ** 60 }, 'loses precision as a JSON number: send it as a string'],
    [{ ubig: '-1' }, 'out of range for uint64'],
    [{ color: 'BLUE' }, 'color: "BLUE" is not a value of shop.common.Color'],
    [{ paid: 'yes' }, 'paid: must be true or false'],
    [{ blob: 'not base64!' }, 'blob: must be a base64 string'],
    [{ items: [{ price: { units: 'x' } }] }, 'items[0].price.units: must be an integer'],
    [{ email: 'a', phone: 'b' }, 'only one of oneof "contact"'],
    [
      { createdAt: '2024-02-30T00:00:00Z' },
      'createdAt: "2024-02-30T00:00:00Z" is not a valid date-time',
    ],
    [{ createdAt: 'yesterday' }, 'createdAt: must be an RFC 3339 date-time string'],
    [{ ttl: '5m' }, 'ttl: must be a duration string'],
    [{ extra: { skuCode: 'a' } }, 'extra.@type: is required'],
    [{ extra: { '@type': 'type.googleapis.com/nope.X' } }, 'unknown message type'],
    [{ items: {} }, 'items: must be a JSON array'],
    [{ items: [null] }, 'items[0]: null is not allowed'],
    [[], 'must be a JSON object (shop.Order)'],
  ])('refuses %j with a clear message', (json, message) => {
    expect(() => encodeFromJson(Order, json)).toThrow(ProtoJsonError);
    expect(() => encodeFromJson(Order, json)).toThrow(message);
  });

  it('treats null as the default, except for google.protobuf.Value', () => {
    const bytes = encodeFromJson(Order, { orderId: null, anything: null, items: null });
    expect(decodeToJson(Order, bytes)).toEqual({ anything: null });
  });

  it('prints floats as the shortest decimal that reads back the same', () => {
    const bytes = encodeFromJson(Order, { weight: 0.1 });
    expect(decodeToJson(Order, bytes)).toEqual({ weight: 0.1 });
  });

  it('maps timestamps before year 100 and nanosecond precision', () => {
    const bytes = encodeFromJson(Order, { createdAt: '0001-01-01T00:00:00.000000001Z' });
    expect(decodeToJson(Order, bytes)).toEqual({ createdAt: '0001-01-01T00:00:00.000000001Z' });
  });
});
