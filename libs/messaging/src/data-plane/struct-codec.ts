import protobuf from 'protobufjs';
import type { JsonValue } from './proto-json.js';

/**
 * google.protobuf.Struct / Value / ListValue straight between JavaScript values and bytes: what
 * a JavaScript handler returns travels as these on every hop, so this skips the generic
 * reflection path (same bytes, checked against it in struct-codec.spec.ts).
 *
 * Struct  { map<string, Value> fields = 1; }
 * Value   { oneof kind { NullValue null_value = 1; double number_value = 2; string string_value = 3;
 *                        bool bool_value = 4; Struct struct_value = 5; ListValue list_value = 6; } }
 * ListValue { repeated Value values = 1; }
 */

/** A value JSON cannot carry; `path` says where. */
export class JsonValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonValueError';
  }
}

const { Writer, Reader } = protobuf;
type W = protobuf.Writer;
type R = protobuf.Reader;

const at = (path: string) => (path ? ` at ${path}` : '');

/** `value` after JSON.stringify's rules (toJSON), or undefined when JSON would drop it. */
function normalize(value: unknown, path: string): unknown {
  if (value === null) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value))
        throw new JsonValueError(`${value}${at(path)} cannot be sent as JSON`);
      return value;
    case 'bigint':
      throw new JsonValueError(`a BigInt${at(path)} cannot be sent as JSON: send it as a string`);
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'object':
      break;
  }
  if (value instanceof Uint8Array)
    throw new JsonValueError(
      `bytes${at(path)} cannot travel inside an object: send them base64-encoded, or as the whole output`,
    );
  const withToJson = value as { toJSON?: () => unknown };
  if (typeof withToJson.toJSON === 'function') return normalize(withToJson.toJSON(), path);
  if (value instanceof Map || value instanceof Set)
    throw new JsonValueError(
      `a ${value.constructor.name}${at(path)} cannot be sent as JSON: convert it to an object or array`,
    );
  return value;
}

function writeStructFields(w: W, object: Record<string, unknown>, path: string): void {
  for (const key of Object.keys(object)) {
    const item = normalize(object[key], path ? `${path}.${key}` : key);
    if (item === undefined) continue;
    w.uint32(10).fork(); // fields (map entry)
    w.uint32(10).string(key);
    w.uint32(18).fork();
    writeValue(w, item, path ? `${path}.${key}` : key);
    w.ldelim();
    w.ldelim();
  }
}

/** Writes the fields of a Value (its oneof) for an already normalized value. */
function writeValue(w: W, value: unknown, path: string): void {
  if (value === null) {
    w.uint32(8).uint32(0);
    return;
  }
  if (typeof value === 'number') {
    w.uint32(17).double(value);
    return;
  }
  if (typeof value === 'string') {
    w.uint32(26).string(value);
    return;
  }
  if (typeof value === 'boolean') {
    w.uint32(32).bool(value);
    return;
  }
  if (Array.isArray(value)) {
    w.uint32(50).fork();
    value.forEach((item: unknown, i) => {
      const normalized = normalize(item, `${path}[${i}]`);
      w.uint32(10).fork();
      writeValue(w, normalized === undefined ? null : normalized, `${path}[${i}]`);
      w.ldelim();
    });
    w.ldelim();
    return;
  }
  w.uint32(42).fork();
  writeStructFields(w, value as Record<string, unknown>, path);
  w.ldelim();
}

/**
 * A plain object as an encoded google.protobuf.Struct.
 * @throws JsonValueError naming the path of a value JSON cannot carry.
 */
export function encodeStruct(object: Record<string, unknown>): Uint8Array {
  const w = Writer.create();
  writeStructFields(w, object, '');
  return w.finish();
}

/**
 * Any JSON-able value as an encoded google.protobuf.Value.
 * @throws JsonValueError naming the path of a value JSON cannot carry.
 */
export function encodeValue(value: unknown): Uint8Array {
  const normalized = normalize(value, '');
  if (normalized === undefined)
    throw new JsonValueError(`a ${typeof value} cannot be sent as JSON`);
  const w = Writer.create();
  writeValue(w, normalized, '');
  return w.finish();
}

function readStruct(r: R, end: number): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 !== 1) {
      r.skipType(tag & 7);
      continue;
    }
    const entryEnd = r.uint32() + r.pos;
    let key = '';
    let value: JsonValue = null;
    while (r.pos < entryEnd) {
      const t = r.uint32();
      if (t >>> 3 === 1) key = r.string();
      else if (t >>> 3 === 2) value = readValue(r, r.uint32() + r.pos);
      else r.skipType(t & 7);
    }
    // defineProperty: a "__proto__" key stays a key instead of becoming the prototype.
    Object.defineProperty(out, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

function readList(r: R, end: number): JsonValue[] {
  const out: JsonValue[] = [];
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 === 1) out.push(readValue(r, r.uint32() + r.pos));
    else r.skipType(tag & 7);
  }
  return out;
}

function readValue(r: R, end: number): JsonValue {
  let value: JsonValue = null;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1:
        r.uint32();
        value = null;
        break;
      case 2:
        value = r.double();
        break;
      case 3:
        value = r.string();
        break;
      case 4:
        value = r.bool();
        break;
      case 5:
        value = readStruct(r, r.uint32() + r.pos);
        break;
      case 6:
        value = readList(r, r.uint32() + r.pos);
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  return value;
}

/** Decodes a google.protobuf.Struct to a plain object. */
export function decodeStruct(bytes: Uint8Array): Record<string, JsonValue> {
  const r = Reader.create(bytes);
  return readStruct(r, r.len);
}

/** Decodes a google.protobuf.Value to its JSON value. */
export function decodeValue(bytes: Uint8Array): JsonValue {
  const r = Reader.create(bytes);
  return readValue(r, r.len);
}

/**
 * A handler's value as the payload it travels as: a plain object as a Struct, any other JSON
 * value as a Value.
 * @throws JsonValueError naming the path of a value JSON cannot carry.
 */
export function encodeJsonPayload(value: unknown): { struct: boolean; bytes: Uint8Array } {
  const normalized = normalize(value, '');
  if (normalized === undefined)
    throw new JsonValueError(`a ${typeof value} cannot be sent as JSON`);
  if (normalized !== null && typeof normalized === 'object' && !Array.isArray(normalized)) {
    const w = Writer.create();
    writeStructFields(w, normalized as Record<string, unknown>, '');
    return { struct: true, bytes: w.finish() };
  }
  const w = Writer.create();
  writeValue(w, normalized, '');
  return { struct: false, bytes: w.finish() };
}
