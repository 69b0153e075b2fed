import protobuf from 'protobufjs';
import { RECORD_ID } from '@libs/messaging';
import { dayCollection } from '@libs/observability';
import { type ObsDocument, type ObsWrite, safeKey } from './obs-documents.js';

/**
 * A `kre.records.LogRecord` (proto/kre/records.proto) read from its protobuf bytes straight into
 * the document `toObsWrite(decodeRecord(…))` makes of it, without the proto3 JSON object, its
 * schema check and the walk over it (about a fifth of the cost, log-documents.spec.ts compares
 * both on the same bytes). It takes only what it can judge alone: a well-formed record whose
 * fields all follow the schema. Anything else (an invalid or unusual record: a missing or blank
 * required field, an unknown enum value, a field sent twice, an out-of-range time, a wire type
 * the field does not have, a non-finite number in `fields`…) gives `undefined`, and the caller
 * takes the general path, which stores it or refuses it with the same reasons as before.
 * Strings and numbers are read with the same protobufjs reader `Type.decode` uses.
 */
export function logWrite(
  bytes: Uint8Array,
  sequence: number,
  runtimeId: string,
): ObsWrite | undefined {
  try {
    return readLog(protobuf.Reader.create(bytes), sequence, runtimeId);
  } catch {
    return undefined; // truncated or malformed: the general path says why
  }
}

const LEVELS = [undefined, 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
const SOURCES = [
  undefined,
  'LOGGER',
  'STDOUT',
  'STDERR',
  'RUNNER',
  'DEPLOYER',
  'ENTRYPOINT',
  'INGESTION',
] as const;
const SLUG = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** Wire types: varint, length-delimited. */
const VARINT = 0;
const LEN = 2;
const FIXED64 = 1;
const MAX_SECONDS = 253_402_300_799; // 9999-12-31T23:59:59Z

function readLog(r: protobuf.Reader, sequence: number, runtimeId: string): ObsWrite | undefined {
  let seen = 0;
  let time: Date | undefined;
  let origin: Record<string, string> | undefined;
  let level: string | undefined;
  let message = '';
  let requestId = '';
  let source: string | undefined;
  let fields: Record<string, unknown> | undefined;
  let id = '';
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field >= 1 && field <= 8) {
      // A field sent twice (protobuf merges or overrides): left to the general path.
      if (seen & (1 << field)) return undefined;
      seen |= 1 << field;
      if (wire !== (field === 3 || field === 6 ? VARINT : LEN)) return undefined;
    }
    switch (field) {
      case 1:
        time = readTime(r, r.uint32() + r.pos);
        if (!time) return undefined;
        break;
      case 2:
        origin = readOrigin(r, r.uint32() + r.pos);
        if (!origin) return undefined;
        break;
      case 3:
        level = LEVELS[r.uint32()];
        if (!level) return undefined;
        break;
      case 4:
        message = r.string();
        break;
      case 5:
        requestId = r.string();
        break;
      case 6:
        source = SOURCES[r.uint32()];
        if (!source) return undefined;
        break;
      case 7:
        fields = readStruct(r, r.uint32() + r.pos);
        if (!fields) return undefined;
        break;
      case 8:
        id = r.string();
        break;
      default:
        r.skipType(wire); // unknown fields are ignored, as by Type.decode
    }
  }
  if (!time || !origin || !level || !message || !source) return undefined;
  if (id && !RECORD_ID.test(id)) return undefined;
  if (origin.runtimeId !== runtimeId) return undefined;
  // Keys in the order toObsWrite gives them (the proto's field order, `id` as `_id` first).
  const document: ObsDocument = { _id: id || sequence, time, origin, level, message };
  if (requestId) document.requestId = requestId;
  document.source = source;
  if (fields) document.fields = fields;
  return { collection: dayCollection('logs', time), document };
}

/** A Timestamp within the proto3 JSON range, as the Date `new Date(<its RFC 3339 text>)` gives. */
function readTime(r: protobuf.Reader, end: number): Date | undefined {
  let seconds = 0;
  let nanos = 0;
  let seen = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1 || field === 2) {
      if ((tag & 7) !== VARINT || seen & (1 << field)) return undefined;
      seen |= 1 << field;
      if (field === 1) seconds = protobuf.util.LongBits.from(r.int64()).toNumber();
      else nanos = r.int32();
    } else r.skipType(tag & 7);
  }
  if (r.pos !== end) return undefined;
  // Before 1970 or past 9999 (or negative nanos): the general path, which knows those rules.
  if (seconds < 0 || seconds > MAX_SECONDS || nanos < 0 || nanos > 999_999_999) return undefined;
  return new Date(seconds * 1000 + Math.floor(nanos / 1_000_000));
}

const ORIGIN_KEYS = [undefined, 'runtimeId', 'version', 'workflow', 'node', 'replica'] as const;

/** An Origin that passes the schema (blank fields left out, as proto3 JSON leaves them). */
function readOrigin(r: protobuf.Reader, end: number): Record<string, string> | undefined {
  const values = ['', '', '', '', '', ''];
  let seen = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field >= 1 && field <= 5) {
      if ((tag & 7) !== LEN || seen & (1 << field)) return undefined;
      seen |= 1 << field;
      values[field] = r.string();
    } else r.skipType(tag & 7);
  }
  if (r.pos !== end) return undefined;
  const [, runtime = '', version = '', workflow = '', node = '', replica = ''] = values;
  if (!SLUG.test(runtime) || !SLUG.test(version) || (workflow && !SLUG.test(workflow)))
    return undefined;
  if (!node || !replica) return undefined;
  const origin: Record<string, string> = {};
  for (let field = 1; field <= 5; field++) {
    const value = values[field];
    if (value) origin[ORIGIN_KEYS[field] as string] = value;
  }
  return origin;
}

/** A google.protobuf.Struct as stored: keys made safe for the database (`safeKey`). */
function readStruct(r: protobuf.Reader, end: number): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 !== 1) {
      r.skipType(tag & 7);
      continue;
    }
    if ((tag & 7) !== LEN) return undefined;
    // One map entry: key = 1 (string), value = 2 (Value); a repeated key keeps its first place.
    const entryEnd = r.uint32() + r.pos;
    let key = '';
    let value: unknown = null;
    let seen = 0;
    while (r.pos < entryEnd) {
      const t = r.uint32();
      const f = t >>> 3;
      if (f === 1 || f === 2) {
        if ((t & 7) !== LEN || seen & (1 << f)) return undefined;
        seen |= 1 << f;
        if (f === 1) key = r.string();
        else {
          const v = readValue(r, r.uint32() + r.pos);
          if (v === undefined) return undefined;
          value = v.value;
        }
      } else r.skipType(t & 7);
    }
    if (r.pos !== entryEnd || !(seen & 4)) return undefined; // an entry without its value
    if (key === '__proto__') return undefined;
    out[safeKey(key)] = value;
  }
  return r.pos === end ? out : undefined;
}

/** A google.protobuf.Value with one kind set (boxed: null is a value). */
function readValue(r: protobuf.Reader, end: number): { value: unknown } | undefined {
  let value: { value: unknown } | undefined;
  while (r.pos < end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field < 1 || field > 6) {
      r.skipType(wire);
      continue;
    }
    if (value) return undefined; // two kinds (or one twice): the general path decides
    switch (field) {
      case 1:
        if (wire !== VARINT) return undefined;
        r.uint32();
        value = { value: null };
        break;
      case 2: {
        if (wire !== FIXED64) return undefined;
        const n = r.double();
        if (!Number.isFinite(n)) return undefined;
        value = { value: n };
        break;
      }
      case 3:
        if (wire !== LEN) return undefined;
        value = { value: r.string() };
        break;
      case 4:
        if (wire !== VARINT) return undefined;
        value = { value: r.bool() };
        break;
      case 5: {
        if (wire !== LEN) return undefined;
        const struct = readStruct(r, r.uint32() + r.pos);
        if (!struct) return undefined;
        value = { value: struct };
        break;
      }
      default: {
        if (wire !== LEN) return undefined;
        const list = readList(r, r.uint32() + r.pos);
        if (!list) return undefined;
        value = { value: list };
      }
    }
  }
  if (r.pos !== end) return undefined;
  return value ?? { value: null }; // no kind set: null, as proto3 JSON has it
}

/** A google.protobuf.ListValue. */
function readList(r: protobuf.Reader, end: number): unknown[] | undefined {
  const out: unknown[] = [];
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 !== 1) {
      r.skipType(tag & 7);
      continue;
    }
    if ((tag & 7) !== LEN) return undefined;
    const v = readValue(r, r.uint32() + r.pos);
    if (v === undefined) return undefined;
    out.push(v.value);
  }
  return r.pos === end ? out : undefined;
}
