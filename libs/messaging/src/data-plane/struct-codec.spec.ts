import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeToJson, encodeFromJson } from './proto-json.js';
import { wellKnownTypes } from './payload.js';
import {
  JsonValueError,
  decodeStruct,
  decodeValue,
  encodeStruct,
  encodeValue,
} from './struct-codec.js';

const Struct = wellKnownTypes().lookupType('google.protobuf.Struct');
const Value = wellKnownTypes().lookupType('google.protobuf.Value');
// A "__proto__" key is left out: protobufjs' generic decoder assigns map and Struct keys with
// `obj[key] = v`, which turns that key into the object's prototype (a known limitation of the
// generic path, found by this property; see the note of issue #6). The direct codec is safe.
const withoutProtoKey = (v: unknown) => !JSON.stringify(v).includes('"__proto__"');
const json = fc
  .jsonValue({ noUnicodeString: false })
  .map((v) => JSON.parse(JSON.stringify(v)) as unknown)
  .filter(withoutProtoKey);
const object = fc.dictionary(fc.string(), json).filter(withoutProtoKey);

describe('the direct Struct/Value codec', () => {
  it('writes what the generic proto3 JSON path reads, and reads what it writes', () => {
    fc.assert(
      fc.property(object, (o) => {
        expect(decodeToJson(Struct, encodeStruct(o))).toEqual(o);
        expect(decodeStruct(encodeFromJson(Struct, o))).toEqual(o);
        expect(decodeStruct(encodeStruct(o))).toEqual(o);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(json, (v) => {
        expect(decodeToJson(Value, encodeValue(v))).toEqual(v);
        expect(decodeValue(encodeFromJson(Value, v))).toEqual(v);
      }),
      { numRuns: 300 },
    );
  });

  it('follows JSON.stringify (toJSON, dropped undefined, null in arrays) and refuses the rest', () => {
    const date = new Date(0);
    expect(
      decodeStruct(encodeStruct({ at: date, gone: undefined, f: () => 1, list: [undefined, 1] })),
    ).toEqual({
      at: date.toISOString(),
      list: [null, 1],
    });
    expect(() => encodeStruct({ n: 1n })).toThrow(JsonValueError);
    expect(() => encodeStruct({ deep: { x: Infinity } })).toThrow(
      'Infinity at deep.x cannot be sent as JSON',
    );
    expect(() => encodeStruct({ b: Buffer.from('x') })).toThrow(
      'bytes at b cannot travel inside an object',
    );
    expect(() => encodeValue(undefined)).toThrow(JsonValueError);
  });
});

describe('a "__proto__" key in a Struct', () => {
  it('stays a plain key through the direct codec and pollutes no prototype', () => {
    const o = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    const decoded = decodeStruct(encodeStruct(o));
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.keys(decoded).sort()).toEqual(['__proto__', 'a']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
