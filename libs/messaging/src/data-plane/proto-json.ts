import protobuf from 'protobufjs';

/**
 * The proto3 JSON mapping (https://protobuf.dev/programming-guides/json/) over protobufjs
 * reflection, strict on input: what HTTP clients send and receive, and what JavaScript handlers
 * see of typed payloads. protobufjs' own `toObject`/`fromObject` coerce silently and do not map
 * the well-known types, so both directions are written here.
 *
 * Roots must be loaded with `keepCase: true` (see `loadProtoRoot`): field names are the proto
 * names, and JSON names are derived from them as protoc does.
 */

export type JsonValue =
  null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A value that does not fit the message type; `path` says where (`items[2].price`). */
export class ProtoJsonError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(path ? `${path}: ${reason}` : reason);
    this.name = 'ProtoJsonError';
  }
}

export interface ToJsonOptions {
  /** Also emit fields without presence that hold their default value (0, "", false, [], {}). */
  emitDefaults?: boolean;
}

type Obj = Record<string, unknown>;

const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const INT32_TYPES = new Set(['int32', 'sint32', 'sfixed32']);
const UINT32_TYPES = new Set(['uint32', 'fixed32']);
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

const WRAPPERS: Record<string, string> = {
  '.google.protobuf.DoubleValue': 'double',
  '.google.protobuf.FloatValue': 'float',
  '.google.protobuf.Int64Value': 'int64',
  '.google.protobuf.UInt64Value': 'uint64',
  '.google.protobuf.Int32Value': 'int32',
  '.google.protobuf.UInt32Value': 'uint32',
  '.google.protobuf.BoolValue': 'bool',
  '.google.protobuf.StringValue': 'string',
  '.google.protobuf.BytesValue': 'bytes',
};

/** protoc's json_name: underscores dropped, the next character upper-cased. */
export function jsonName(field: protobuf.Field): string {
  const explicit = field.options?.json_name as unknown;
  if (typeof explicit === 'string') return explicit;
  let out = '';
  let upper = false;
  for (const c of field.name) {
    if (c === '_') upper = true;
    else {
      out += upper ? c.toUpperCase() : c;
      upper = false;
    }
  }
  return out;
}

const fullNames = new WeakMap<protobuf.ReflectionObject, string>();

/**
 * `type.fullName`, which protobufjs builds again on every read (walking up to the root): read
 * once per type here, as every record encoded or decoded asks it of each of its messages.
 */
function fullNameOf(type: protobuf.ReflectionObject): string {
  let name = fullNames.get(type);
  if (name === undefined) {
    name = type.fullName;
    fullNames.set(type, name);
  }
  return name;
}

/** What `message` needs of each field, read from protobufjs reflection once per type. */
interface FieldInfo {
  readonly field: protobuf.Field;
  readonly jsonName: string;
  /** Present or absent (oneof members and singular message fields), not "default or not". */
  readonly tracksPresence: boolean;
}

const fieldInfos = new WeakMap<protobuf.Type, readonly FieldInfo[]>();
const fieldsByName = new WeakMap<protobuf.Type, ReadonlyMap<string, protobuf.Field>>();

/**
 * A type's fields with their JSON names, built once per type (every record's messages asked
 * for them again, and `jsonName` builds its string a character at a time).
 */
function fieldInfosOf(type: protobuf.Type): readonly FieldInfo[] {
  let infos = fieldInfos.get(type);
  if (infos === undefined) {
    infos = type.fieldsArray.map((field) => ({
      field,
      jsonName: jsonName(field),
      tracksPresence:
        field.partOf !== null ||
        (field.resolvedType instanceof protobuf.Type && !field.repeated && !field.map),
    }));
    // Kept only once every field is resolved (decoding resolves them; a type mapped before
    // that is read again next time, as before).
    if (type.fieldsArray.every((field) => field.resolved)) fieldInfos.set(type, infos);
  }
  return infos;
}

/** A type's fields by JSON name and by proto name (both are accepted on input). */
function fieldsByNameOf(type: protobuf.Type): ReadonlyMap<string, protobuf.Field> {
  let byName = fieldsByName.get(type);
  if (byName === undefined) {
    const map = new Map<string, protobuf.Field>();
    for (const { field, jsonName: name } of fieldInfosOf(type)) {
      map.set(name, field);
      map.set(field.name, field);
    }
    byName = map;
    if (fieldInfos.has(type)) fieldsByName.set(type, byName);
  }
  return byName;
}

/** A field by number, so well-known types work whatever case their definitions use. */
function fieldById(type: protobuf.Type, id: number): protobuf.Field {
  const field = type.fieldsById[id];
  if (!field) throw new Error(`${type.fullName} has no field ${id}`);
  return field;
}

const join = (path: string, key: string | number) =>
  typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;

// ---------------------------------------------------------------------------------------------
// message → JSON

/** Decodes `bytes` as `type` and maps it to proto3 JSON. */
export function decodeToJson(
  type: protobuf.Type,
  bytes: Uint8Array,
  options: ToJsonOptions = {},
): JsonValue {
  return messageToJson(type, type.decode(bytes) as unknown as Obj, options);
}

/** Maps a decoded protobufjs message of `type` to proto3 JSON. */
export function messageToJson(
  type: protobuf.Type,
  message: Obj,
  options: ToJsonOptions = {},
): JsonValue {
  return new ToJson(options).message(type, message, '');
}

class ToJson {
  constructor(private readonly options: ToJsonOptions) {}

  message(type: protobuf.Type, msg: Obj, path: string): JsonValue {
    const wkt = this.wellKnown(type, msg, path);
    if (wkt !== undefined) return wkt;
    const out: Record<string, JsonValue> = {};
    for (const { field, jsonName: name, tracksPresence } of fieldInfosOf(type)) {
      const value = msg[field.name];
      if (tracksPresence) {
        if (value === null || value === undefined) continue;
        if (!Object.prototype.hasOwnProperty.call(msg, field.name)) continue;
      } else if (!this.options.emitDefaults && isDefault(field, value)) continue;
      out[name] = this.field(field, value, join(path, name));
    }
    return out;
  }

  private field(field: protobuf.Field, value: unknown, path: string): JsonValue {
    if (field.map) {
      const out: Record<string, JsonValue> = {};
      const keyType = (field as unknown as protobuf.MapField).keyType;
      for (const [key, v] of Object.entries((value ?? {}) as Obj)) {
        const jsonKey = LONG_TYPES.has(keyType)
          ? longToString(
              protobuf.util.LongBits.fromHash(key).toLong(
                keyType.startsWith('u') || keyType === 'fixed64',
              ),
            )
          : key;
        out[jsonKey] = this.single(field, v, join(path, jsonKey));
      }
      return out;
    }
    if (field.repeated)
      return ((value ?? []) as unknown[]).map((v, i) => this.single(field, v, join(path, i)));
    return this.single(field, value, path);
  }

  private single(field: protobuf.Field, value: unknown, path: string): JsonValue {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) return this.message(resolved, value as Obj, path);
    if (resolved instanceof protobuf.Enum) return enumToJson(resolved, value as number);
    return scalarToJson(field.type, value, path);
  }

  private wellKnown(type: protobuf.Type, msg: Obj, path: string): JsonValue | undefined {
    const get = (id: number) => msg[fieldById(type, id).name];
    const wrapper = WRAPPERS[fullNameOf(type)];
    if (wrapper) return scalarToJson(wrapper, get(1) ?? defaultScalar(wrapper), path);
    switch (fullNameOf(type)) {
      case '.google.protobuf.Timestamp':
        return timestampToJson(toBigInt(get(1) ?? 0), Number(get(2) ?? 0), path);
      case '.google.protobuf.Duration':
        return durationToJson(toBigInt(get(1) ?? 0), Number(get(2) ?? 0), path);
      case '.google.protobuf.Struct': {
        const out: Record<string, JsonValue> = {};
        const valueType = fieldById(type, 1).resolvedType as protobuf.Type;
        for (const [key, v] of Object.entries((get(1) ?? {}) as Obj))
          out[key] = this.message(valueType, v as Obj, join(path, key));
        return out;
      }
      case '.google.protobuf.ListValue': {
        const valueType = fieldById(type, 1).resolvedType as protobuf.Type;
        return ((get(1) ?? []) as Obj[]).map((v, i) => this.message(valueType, v, join(path, i)));
      }
      case '.google.protobuf.Value':
        return this.valueToJson(type, msg, path);
      case '.google.protobuf.FieldMask':
        return ((get(1) ?? []) as string[]).map(snakeToCamel).join(',');
      case '.google.protobuf.Empty':
        return {};
      case '.google.protobuf.Any':
        return this.anyToJson(
          type,
          typeof get(1) === 'string' ? (get(1) as string) : '',
          (get(2) ?? new Uint8Array()) as Uint8Array,
          path,
        );
      default:
        return undefined;
    }
  }

  private valueToJson(type: protobuf.Type, msg: Obj, path: string): JsonValue {
    for (const id of [1, 2, 3, 4, 5, 6]) {
      const field = fieldById(type, id);
      if (!Object.prototype.hasOwnProperty.call(msg, field.name)) continue;
      const v = msg[field.name];
      switch (id) {
        case 1:
          return null;
        case 2: {
          const n = Number(v);
          if (!Number.isFinite(n))
            throw new ProtoJsonError(path, `a google.protobuf.Value cannot hold ${n} in JSON`);
          return n;
        }
        case 3:
          return String(v);
        case 4:
          return Boolean(v);
        default:
          return this.message(field.resolvedType as protobuf.Type, v as Obj, path);
      }
    }
    return null;
  }

  private anyToJson(
    anyType: protobuf.Type,
    typeUrl: string,
    value: Uint8Array,
    path: string,
  ): JsonValue {
    if (!typeUrl) return {};
    const inner = lookupAnyType(anyType.root, typeUrl, path);
    const json = this.message(inner, inner.decode(value) as unknown as Obj, path);
    if (isWellKnown(inner) || json === null || typeof json !== 'object' || Array.isArray(json))
      return { '@type': typeUrl, value: json };
    return { '@type': typeUrl, ...json };
  }
}

function isDefault(field: protobuf.Field, value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (field.map) return Object.keys(value).length === 0;
  if (field.repeated) return (value as unknown[]).length === 0;
  if (field.resolvedType instanceof protobuf.Enum) return value === 0;
  if (field.type === 'bytes') return (value as Uint8Array).length === 0;
  if (LONG_TYPES.has(field.type)) return toBigInt(value) === 0n;
  return value === 0 || value === '' || value === false;
}

function defaultScalar(type: string): unknown {
  if (type === 'bool') return false;
  if (type === 'string') return '';
  if (type === 'bytes') return new Uint8Array();
  return 0;
}

/** A protobufjs Long (or number) in decimal. */
function longToString(value: { toString(radix?: number): string } | number): string {
  return typeof value === 'number' ? String(value) : value.toString(10);
}

function toBigInt(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return BigInt(Math.trunc(value));
  if (typeof value === 'string') return BigInt(value);
  return BigInt(longToString(value as { toString(radix?: number): string })); // Long
}

function enumToJson(type: protobuf.Enum, value: number): JsonValue {
  if (fullNameOf(type) === '.google.protobuf.NullValue') return null;
  return type.valuesById[value] ?? value;
}

/** The shortest decimal that reads back as the same 32-bit float. */
function float32ToJson(value: number): number {
  for (let precision = 1; precision <= 9; precision++) {
    const candidate = Number(value.toPrecision(precision));
    if (Math.fround(candidate) === value) return candidate;
  }
  return value;
}

function scalarToJson(type: string, value: unknown, path: string): JsonValue {
  switch (type) {
    case 'double':
    case 'float': {
      const n = Number(value);
      if (Number.isNaN(n)) return 'NaN';
      if (n === Infinity) return 'Infinity';
      if (n === -Infinity) return '-Infinity';
      return type === 'float' ? float32ToJson(n) : n;
    }
    case 'int32':
    case 'sint32':
    case 'sfixed32':
    case 'uint32':
    case 'fixed32':
      return Number(value);
    case 'int64':
    case 'sint64':
    case 'sfixed64':
    case 'uint64':
    case 'fixed64':
      return toBigInt(value).toString();
    case 'bool':
      return Boolean(value);
    case 'string':
      return String(value);
    case 'bytes':
      return Buffer.from(value as Uint8Array).toString('base64');
    default:
      throw new ProtoJsonError(path, `unsupported scalar type ${type}`);
  }
}

const pad = (n: number | bigint, width: number) => String(n).padStart(width, '0');

/** 0, 3, 6 or 9 fractional digits, as the mapping recommends. */
function fraction(nanos: number): string {
  if (nanos === 0) return '';
  if (nanos % 1_000_000 === 0) return `.${pad(nanos / 1_000_000, 3)}`;
  if (nanos % 1_000 === 0) return `.${pad(nanos / 1_000, 6)}`;
  return `.${pad(nanos, 9)}`;
}

const MIN_TIMESTAMP = -62_135_596_800n; // 0001-01-01T00:00:00Z
const MAX_TIMESTAMP = 253_402_300_799n; // 9999-12-31T23:59:59Z

function timestampToJson(seconds: bigint, nanos: number, path: string): string {
  if (seconds < MIN_TIMESTAMP || seconds > MAX_TIMESTAMP || nanos < 0 || nanos > 999_999_999)
    throw new ProtoJsonError(path, 'timestamp out of range (0001-01-01 to 9999-12-31)');
  const iso = new Date(Number(seconds) * 1000).toISOString(); // …T00:00:00.000Z
  return `${iso.slice(0, 19)}${fraction(nanos)}Z`;
}

function durationToJson(seconds: bigint, nanos: number, path: string): string {
  if ((seconds < 0n && nanos > 0) || (seconds > 0n && nanos < 0))
    throw new ProtoJsonError(path, 'duration seconds and nanos have different signs');
  const negative = seconds < 0n || nanos < 0;
  const abs = negative ? -seconds : seconds;
  return `${negative ? '-' : ''}${abs}${fraction(Math.abs(nanos))}s`;
}

function snakeToCamel(path: string): string {
  return path.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function camelToSnake(path: string): string {
  return path.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function isWellKnown(type: protobuf.Type): boolean {
  return fullNameOf(type).startsWith('.google.protobuf.');
}

/** The message type an Any's `type_url` names (`type.googleapis.com/pkg.Msg`). */
export function lookupAnyType(
  root: protobuf.Root | protobuf.Namespace,
  typeUrl: string,
  path = '',
): protobuf.Type {
  const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  try {
    return root.lookupType(name);
  } catch {
    throw new ProtoJsonError(
      path,
      `unknown message type "${typeUrl}" in an Any: it is not in the version's protos`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// JSON → message

/**
 * Parses proto3 JSON into `type` and encodes it.
 * @throws ProtoJsonError naming the field for unknown fields, wrong types, bad enum names.
 */
export function encodeFromJson(type: protobuf.Type, json: unknown): Uint8Array {
  return type.encode(type.fromObject(messageFromJson(type, json))).finish();
}

/**
 * Parses proto3 JSON into the plain-object form `type.fromObject` takes (strictly: unknown
 * fields, wrong types and bad enum names are errors).
 * @throws ProtoJsonError naming the offending field.
 */
export function messageFromJson(type: protobuf.Type, json: unknown, path = ''): Obj {
  return new FromJson().message(type, json, path);
}

class FromJson {
  message(type: protobuf.Type, json: unknown, path: string): Obj {
    const wkt = this.wellKnown(type, json, path);
    if (wkt !== undefined) return wkt;
    if (json === null || typeof json !== 'object' || Array.isArray(json))
      throw new ProtoJsonError(path, `must be a JSON object (${type.fullName.slice(1)})`);
    const byName = fieldsByNameOf(type);
    const out: Obj = {};
    const oneofsSeen = new Map<string, string>();
    for (const [key, value] of Object.entries(json as Obj)) {
      const field = byName.get(key);
      const fieldPath = join(path, key);
      if (!field) throw new ProtoJsonError(fieldPath, `unknown field of ${type.fullName.slice(1)}`);
      if (Object.prototype.hasOwnProperty.call(out, field.name))
        throw new ProtoJsonError(fieldPath, 'field given twice (by its proto and JSON names)');
      const isValueField =
        !!field.resolvedType &&
        fullNameOf(field.resolvedType) === '.google.protobuf.Value' &&
        !field.repeated &&
        !field.map;
      if (value === null && !isValueField) continue; // null = the default
      if (field.partOf) {
        const other = oneofsSeen.get(field.partOf.name);
        if (other)
          throw new ProtoJsonError(
            fieldPath,
            `only one of oneof "${field.partOf.name}" may be set (also "${other}")`,
          );
        oneofsSeen.set(field.partOf.name, key);
      }
      out[field.name] = this.field(field, value, fieldPath);
    }
    return out;
  }

  private field(field: protobuf.Field, value: unknown, path: string): unknown {
    if (field.map) {
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw new ProtoJsonError(path, 'must be a JSON object (a map)');
      const keyType = (field as unknown as protobuf.MapField).keyType;
      const out: Obj = {};
      for (const [key, v] of Object.entries(value as Obj)) {
        const keyPath = join(path, key);
        out[mapKeyFromJson(keyType, key, keyPath)] = this.single(field, v, keyPath);
      }
      return out;
    }
    if (field.repeated) {
      if (!Array.isArray(value)) throw new ProtoJsonError(path, 'must be a JSON array');
      return value.map((v, i) => {
        if (v === null)
          throw new ProtoJsonError(join(path, i), 'null is not allowed in a repeated field');
        return this.single(field, v, join(path, i));
      });
    }
    return this.single(field, value, path);
  }

  private single(field: protobuf.Field, value: unknown, path: string): unknown {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) return this.message(resolved, value, path);
    if (resolved instanceof protobuf.Enum) return enumFromJson(resolved, value, path);
    return scalarFromJson(field.type, value, path);
  }

  private wellKnown(type: protobuf.Type, json: unknown, path: string): Obj | undefined {
    const name = (id: number) => fieldById(type, id).name;
    const wrapper = WRAPPERS[fullNameOf(type)];
    if (wrapper) return { [name(1)]: scalarFromJson(wrapper, json, path) };
    switch (fullNameOf(type)) {
      case '.google.protobuf.Timestamp': {
        const { seconds, nanos } = timestampFromJson(json, path);
        return { [name(1)]: seconds, [name(2)]: nanos };
      }
      case '.google.protobuf.Duration': {
        const { seconds, nanos } = durationFromJson(json, path);
        return { [name(1)]: seconds, [name(2)]: nanos };
      }
      case '.google.protobuf.Struct': {
        if (json === null || typeof json !== 'object' || Array.isArray(json))
          throw new ProtoJsonError(path, 'must be a JSON object (google.protobuf.Struct)');
        const valueType = fieldById(type, 1).resolvedType as protobuf.Type;
        const fields: Obj = {};
        for (const [key, v] of Object.entries(json as Obj))
          fields[key] = this.message(valueType, v, join(path, key));
        return { [name(1)]: fields };
      }
      case '.google.protobuf.ListValue': {
        if (!Array.isArray(json))
          throw new ProtoJsonError(path, 'must be a JSON array (google.protobuf.ListValue)');
        const valueType = fieldById(type, 1).resolvedType as protobuf.Type;
        return { [name(1)]: json.map((v, i) => this.message(valueType, v, join(path, i))) };
      }
      case '.google.protobuf.Value':
        return this.valueFromJson(type, json, path);
      case '.google.protobuf.FieldMask': {
        if (typeof json !== 'string')
          throw new ProtoJsonError(path, 'must be a string (google.protobuf.FieldMask)');
        return { [name(1)]: json === '' ? [] : json.split(',').map(camelToSnake) };
      }
      case '.google.protobuf.Empty':
        if (
          json === null ||
          typeof json !== 'object' ||
          Array.isArray(json) ||
          Object.keys(json).length > 0
        )
          throw new ProtoJsonError(path, 'must be {} (google.protobuf.Empty)');
        return {};
      case '.google.protobuf.Any':
        return this.anyFromJson(type, json, path);
      default:
        return undefined;
    }
  }

  private valueFromJson(type: protobuf.Type, json: unknown, path: string): Obj {
    const name = (id: number) => fieldById(type, id).name;
    if (json === null) return { [name(1)]: 0 };
    switch (typeof json) {
      case 'number':
        if (!Number.isFinite(json)) throw new ProtoJsonError(path, 'must be a finite number');
        return { [name(2)]: json };
      case 'string':
        return { [name(3)]: json };
      case 'boolean':
        return { [name(4)]: json };
      case 'object': {
        const id = Array.isArray(json) ? 6 : 5;
        return {
          [name(id)]: this.message(fieldById(type, id).resolvedType as protobuf.Type, json, path),
        };
      }
      case 'bigint':
      case 'function':
      case 'symbol':
      case 'undefined':
        break;
    }
    throw new ProtoJsonError(path, `a ${typeof json} is not a JSON value`);
  }

  private anyFromJson(anyType: protobuf.Type, json: unknown, path: string): Obj {
    if (json === null || typeof json !== 'object' || Array.isArray(json))
      throw new ProtoJsonError(path, 'must be a JSON object with "@type" (google.protobuf.Any)');
    const { '@type': typeUrl, ...rest } = json as Obj;
    if (typeof typeUrl !== 'string' || !typeUrl)
      throw new ProtoJsonError(join(path, '@type'), 'is required in a google.protobuf.Any');
    const inner = lookupAnyType(anyType.root, typeUrl, path);
    const body = isWellKnown(inner) ? rest.value : rest;
    if (isWellKnown(inner) && Object.keys(rest).some((k) => k !== 'value'))
      throw new ProtoJsonError(path, `an Any of ${typeUrl} has only "@type" and "value"`);
    const value = inner.encode(inner.fromObject(this.message(inner, body, path))).finish();
    return { [fieldById(anyType, 1).name]: typeUrl, [fieldById(anyType, 2).name]: value };
  }
}

function enumFromJson(type: protobuf.Enum, value: unknown, path: string): number {
  if (fullNameOf(type) === '.google.protobuf.NullValue') {
    if (value === null || value === 'NULL_VALUE' || value === 0) return 0;
    throw new ProtoJsonError(path, 'must be null');
  }
  if (typeof value === 'string') {
    const n = type.values[value];
    if (n === undefined)
      throw new ProtoJsonError(
        path,
        `"${value}" is not a value of ${type.fullName.slice(1)} (${Object.keys(type.values).join(', ')})`,
      );
    return n;
  }
  if (
    typeof value === 'number' &&
    Number.isInteger(value) &&
    value >= -(2 ** 31) &&
    value < 2 ** 31
  )
    return value;
  throw new ProtoJsonError(path, `must be a name of ${type.fullName.slice(1)} or an int32`);
}

function integerFromJson(
  value: unknown,
  path: string,
  min: bigint,
  max: bigint,
  what: string,
): bigint {
  let n: bigint;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new ProtoJsonError(path, `must be an integer (${what})`);
    if (!Number.isSafeInteger(value))
      throw new ProtoJsonError(
        path,
        `${value} loses precision as a JSON number: send it as a string (${what})`,
      );
    n = BigInt(value);
  } else if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) {
    n = BigInt(value.trim());
  } else {
    throw new ProtoJsonError(path, `must be an integer or a decimal string (${what})`);
  }
  if (n < min || n > max) throw new ProtoJsonError(path, `${n} is out of range for ${what}`);
  return n;
}

function scalarFromJson(type: string, value: unknown, path: string): unknown {
  if (INT32_TYPES.has(type))
    return Number(integerFromJson(value, path, -(2n ** 31n), 2n ** 31n - 1n, type));
  if (UINT32_TYPES.has(type)) return Number(integerFromJson(value, path, 0n, 2n ** 32n - 1n, type));
  if (LONG_TYPES.has(type)) {
    const unsigned = type === 'uint64' || type === 'fixed64';
    return integerFromJson(
      value,
      path,
      unsigned ? 0n : INT64_MIN,
      unsigned ? UINT64_MAX : INT64_MAX,
      type,
    ).toString();
  }
  switch (type) {
    case 'double':
    case 'float': {
      if (value === 'NaN') return NaN;
      if (value === 'Infinity') return Infinity;
      if (value === '-Infinity') return -Infinity;
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n !== 'number' || Number.isNaN(n))
        throw new ProtoJsonError(path, `must be a number (${type})`);
      if (type === 'float' && Number.isFinite(n) && !Number.isFinite(Math.fround(n)))
        throw new ProtoJsonError(path, `${n} is out of range for float`);
      return n;
    }
    case 'bool':
      if (typeof value !== 'boolean') throw new ProtoJsonError(path, 'must be true or false');
      return value;
    case 'string':
      if (typeof value !== 'string') throw new ProtoJsonError(path, 'must be a string');
      return value;
    case 'bytes':
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/\-_]*={0,2}$/.test(value))
        throw new ProtoJsonError(path, 'must be a base64 string (bytes)');
      return Buffer.from(value, 'base64');
    default:
      throw new ProtoJsonError(path, `unsupported scalar type ${type}`);
  }
}

function mapKeyFromJson(keyType: string, key: string, path: string): string {
  if (keyType === 'string') return key;
  if (keyType === 'bool') {
    if (key !== 'true' && key !== 'false')
      throw new ProtoJsonError(path, 'map key must be "true" or "false"');
    return key;
  }
  return String(scalarFromJson(keyType, key, path));
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

function timestampFromJson(json: unknown, path: string): { seconds: string; nanos: number } {
  const match = typeof json === 'string' ? RFC3339.exec(json) : null;
  if (!match)
    throw new ProtoJsonError(
      path,
      'must be an RFC 3339 date-time string, e.g. "2024-01-31T12:00:00Z"',
    );
  const [, y, mo, d, h, mi, s, frac, zone] = match;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const check = new Date(ms);
  if (
    check.getUTCDate() !== Number(d) ||
    check.getUTCMonth() !== Number(mo) - 1 ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 59
  )
    throw new ProtoJsonError(path, `"${String(json)}" is not a valid date-time`);
  let seconds = BigInt(Math.floor(ms / 1000));
  if (Number(y) < 100)
    seconds = yearFix(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s));
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1n : 1n;
    const [oh, om] = zone.slice(1).split(':').map(Number);
    seconds -= sign * BigInt(oh * 3600 + om * 60);
  }
  if (seconds < MIN_TIMESTAMP || seconds > MAX_TIMESTAMP)
    throw new ProtoJsonError(path, 'timestamp out of range (0001-01-01 to 9999-12-31)');
  const nanos = frac ? Number(frac.padEnd(9, '0')) : 0;
  return { seconds: seconds.toString(), nanos };
}

/** Date.UTC reads years 0–99 as 1900–1999; set the full year explicitly. */
function yearFix(y: number, mo: number, d: number, h: number, mi: number, s: number): bigint {
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  return BigInt(Math.floor(date.getTime() / 1000));
}

function durationFromJson(json: unknown, path: string): { seconds: string; nanos: number } {
  const match = typeof json === 'string' ? /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(json) : null;
  if (!match) throw new ProtoJsonError(path, 'must be a duration string such as "1.5s"');
  const [, minus, secs, frac] = match;
  const seconds = BigInt(secs);
  if (seconds > 315_576_000_000n)
    throw new ProtoJsonError(path, 'duration out of range (±10000 years)');
  const nanos = frac ? Number(frac.padEnd(9, '0')) : 0;
  return minus
    ? { seconds: (-seconds).toString(), nanos: -nanos }
    : { seconds: seconds.toString(), nanos };
}
