import protobuf from 'protobufjs';
import { JsonValueError, decodeStruct, decodeValue, encodeJsonPayload } from './struct-codec.js';
import {
  type JsonValue,
  ProtoJsonError,
  decodeToJson,
  encodeFromJson,
  lookupAnyType,
} from './proto-json.js';

/** `google.protobuf.Any` as protobufjs encodes it (proto field names). */
export interface AnyMessage {
  type_url: string;
  value: Uint8Array;
}

export const TYPE_URL_PREFIX = 'type.googleapis.com/';

/** `type.googleapis.com/<full name>` of a message type. */
export function typeUrlOf(type: protobuf.Type): string {
  return `${TYPE_URL_PREFIX}${type.fullName.slice(1)}`;
}

/** The full message name an Any's type URL names. */
export function typeNameOf(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}

let wktRoot: protobuf.Root | undefined;

/** The well-known types, bundled with protobufjs. */
export function wellKnownTypes(): protobuf.Root {
  if (!wktRoot) {
    const root = new protobuf.Root();
    root.loadSync(
      ['any', 'duration', 'empty', 'field_mask', 'struct', 'timestamp', 'wrappers'].map(
        (f) => `google/protobuf/${f}.proto`,
      ),
      { keepCase: true },
    );
    root.resolveAll();
    wktRoot = root;
  }
  return wktRoot;
}

/** Thrown when a handler's value cannot travel as a payload; the message says how to fix it. */
export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadError';
  }
}

/**
 * Packs and unpacks envelope payloads for one version. Typed payloads use the version's protos;
 * what a JavaScript handler returns travels as `google.protobuf.Struct` (an object),
 * `google.protobuf.Value` (any other JSON value) or `google.protobuf.BytesValue` (a Buffer).
 * Handlers see typed payloads in their proto3 JSON form (int64 as strings, bytes as base64,
 * enums by name, Timestamps as RFC 3339 strings), with default values filled in.
 */
export class PayloadCodec {
  private readonly struct: protobuf.Type;
  private readonly value: protobuf.Type;
  private readonly bytesValue: protobuf.Type;
  private readonly cache = new Map<string, protobuf.Type>();

  constructor(private readonly root?: protobuf.Root) {
    const wkt = wellKnownTypes();
    this.struct = wkt.lookupType('google.protobuf.Struct');
    this.value = wkt.lookupType('google.protobuf.Value');
    this.bytesValue = wkt.lookupType('google.protobuf.BytesValue');
  }

  /** A message type of the version's protos or a well-known type. */
  type(typeName: string): protobuf.Type {
    const cached = this.cache.get(typeName);
    if (cached) return cached;
    let type: protobuf.Type | undefined;
    for (const root of [this.root, wellKnownTypes()]) {
      if (!root) continue;
      try {
        type = lookupAnyType(root, typeName);
        break;
      } catch {
        // try the next root
      }
    }
    if (!type)
      throw new PayloadError(
        `unknown message type "${typeName}": it is in neither the version's protos nor the well-known types`,
      );
    this.cache.set(typeName, type);
    return type;
  }

  /**
   * A handler's value as an Any: as `typeName` when given (proto3 JSON, strictly), otherwise as
   * Struct / Value / BytesValue.
   * @throws PayloadError saying which part of the value cannot be sent.
   */
  pack(value: unknown, typeName?: string): AnyMessage {
    if (typeName) {
      const type = this.type(typeName);
      try {
        return { type_url: typeUrlOf(type), value: encodeFromJson(type, toJsonValue(value, '')) };
      } catch (error) {
        if (error instanceof ProtoJsonError)
          throw new PayloadError(`the value does not fit ${typeName}: ${error.message}`);
        throw error;
      }
    }
    if (value instanceof Uint8Array)
      return {
        type_url: typeUrlOf(this.bytesValue),
        value: this.bytesValue.encode({ value }).finish(),
      };
    try {
      const { struct, bytes } = encodeJsonPayload(value);
      return { type_url: typeUrlOf(struct ? this.struct : this.value), value: bytes };
    } catch (error) {
      if (error instanceof JsonValueError) throw new PayloadError(error.message);
      throw error;
    }
  }

  /**
   * What a handler sees of a payload: proto3 JSON (defaults filled in), a Buffer for BytesValue,
   * `undefined` for no payload.
   * @throws PayloadError when the type is unknown or the bytes do not decode.
   */
  unpack(any: AnyMessage | null | undefined): unknown {
    if (!any || !any.type_url) return undefined;
    const type = this.type(typeNameOf(any.type_url));
    try {
      if (type.fullName === '.google.protobuf.Struct') return decodeStruct(any.value);
      if (type.fullName === '.google.protobuf.Value') return decodeValue(any.value);
      if (type.fullName === '.google.protobuf.BytesValue') {
        const decoded = this.bytesValue.decode(any.value) as unknown as { value?: Uint8Array };
        return Buffer.from(decoded.value ?? new Uint8Array());
      }
      return decodeToJson(type, any.value, { emitDefaults: true });
    } catch (error) {
      throw new PayloadError(
        `cannot decode a ${typeNameOf(any.type_url)} payload: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  /** proto3 JSON of a payload as HTTP clients get it (defaults omitted). */
  toJson(any: AnyMessage, emitDefaults = false): JsonValue {
    const name = typeNameOf(any.type_url);
    if (name === 'google.protobuf.Struct') return decodeStruct(any.value);
    if (name === 'google.protobuf.Value') return decodeValue(any.value);
    return decodeToJson(this.type(name), any.value, { emitDefaults });
  }
}

/**
 * A handler's value as JSON, with JSON.stringify's rules (toJSON, dropped undefined) but loud
 * where JSON.stringify is silent or lossy.
 * @throws PayloadError naming the path of a value JSON cannot carry.
 */
export function toJsonValue(value: unknown, path: string): JsonValue {
  const where = path ? ` at ${path}` : '';
  if (value === null) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value))
        throw new PayloadError(`${value}${where} cannot be sent as JSON`);
      return value;
    case 'bigint':
      throw new PayloadError(`a BigInt${where} cannot be sent as JSON: send it as a string`);
    case 'undefined':
    case 'function':
    case 'symbol':
      throw new PayloadError(`a ${typeof value}${where} cannot be sent as JSON`);
    case 'object':
      break;
  }
  const object = value as { toJSON?: () => unknown };
  if (value instanceof Uint8Array)
    throw new PayloadError(
      `bytes${where} cannot travel inside an object: send them base64-encoded, or as the whole output`,
    );
  if (typeof object.toJSON === 'function') return toJsonValue(object.toJSON(), path);
  if (Array.isArray(value))
    return value.map((item: unknown, i) =>
      item === undefined || typeof item === 'function' ? null : toJsonValue(item, `${path}[${i}]`),
    );
  if (value instanceof Map || value instanceof Set)
    throw new PayloadError(
      `a ${value.constructor.name}${where} cannot be sent as JSON: convert it to an object or array`,
    );
  const out: Record<string, JsonValue> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
    out[key] = toJsonValue(item, path ? `${path}.${key}` : key);
  }
  return out;
}
