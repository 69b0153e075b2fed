import type { JsonValue, RecordKind } from '@libs/messaging';
import { dayCollection } from '@libs/observability';

/**
 * One record as stored: `_id` is the id its producer gave it (a string, proto/kre/records.proto),
 * or, for a record without one (a runner that predates it), its sequence in the runtime's
 * observability stream (a number).
 */
export interface ObsDocument {
  _id: string | number;
  [field: string]: unknown;
}

/** Where one record goes in the runtime's database, and what is written. */
export interface ObsWrite {
  collection: string;
  document: ObsDocument;
}

const KINDS: readonly RecordKind[] = ['logs', 'metrics', 'predictions', 'measurements'];

/** The record kind of a subject `<p>.<rt>.obs.<kind>`, or undefined for any other subject. */
export function kindOfSubject(subject: string): RecordKind | undefined {
  const kind = subject.slice(subject.lastIndexOf('.') + 1);
  return (KINDS as readonly string[]).includes(kind) ? (kind as RecordKind) : undefined;
}

/** Proto3 JSON enum values without their type prefix (`LOG_LEVEL_INFO` → `INFO`). */
const ENUM_PREFIXES: Record<string, string> = {
  level: 'LOG_LEVEL_',
  source: 'LOG_SOURCE_',
  error: 'PREDICTION_ERROR_',
};
/** Timestamps stored as dates (range queries); int64 counts stored as numbers (arithmetic). */
const TIMES = ['time', 'start', 'end'];
const COUNTS = ['count', 'errors'];

/**
 * A decoded record (`decodeRecord`'s proto3 JSON) as a document keyed by its id (else `sequence`) of the day its own time falls on
 * (`end` for node metrics); `received` (the stream's timestamp) stands in for an unreadable time.
 */
export function toObsWrite(
  kind: RecordKind,
  sequence: number,
  record: Record<string, JsonValue>,
  received: Date,
): ObsWrite {
  const document: ObsDocument = {
    _id: typeof record.id === 'string' && record.id ? record.id : sequence,
  };
  for (const [key, value] of Object.entries(record)) {
    if (key === 'id') continue; // it is the _id
    if (TIMES.includes(key) && typeof value === 'string') document[key] = dateOr(value, received);
    else if (COUNTS.includes(key) && typeof value === 'string') document[key] = Number(value);
    else if (key === 'bucketCounts' && Array.isArray(value)) document[key] = value.map(Number);
    else if (key in ENUM_PREFIXES && typeof value === 'string')
      document[key] = value.replace(ENUM_PREFIXES[key] ?? '', '');
    else document[key] = safeKeys(value);
  }
  const time = (kind === 'metrics' ? document.end : document.time) as Date | undefined;
  return { collection: dayCollection(kind, time ?? received), document };
}

function dateOr(text: string, fallback: Date): Date {
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? fallback : date;
}

/**
 * Free-form maps (log `fields`, prediction `extra`, measurement `fields` and `tags`) with keys
 * the database refuses (FerretDB: a `.` anywhere or a leading `$`) get those characters as their
 * full-width forms (`．`, `＄`), so such a record is stored rather than refused.
 */
function safeKeys(value: JsonValue): JsonValue {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(safeKeys);
  const out: Record<string, JsonValue> = {};
  for (const key in value) {
    const item = value[key];
    out[safeKey(key)] = item !== null && typeof item === 'object' ? safeKeys(item) : item;
  }
  return out;
}

/** A free-form key as stored (`safeKeys`). */
export function safeKey(key: string): string {
  // Most keys need nothing: tested first, so only odd ones build a new string.
  return key.includes('.') || key.startsWith('$')
    ? key.replaceAll('.', '\uff0e').replace(/^\$/, '\uff04')
    : key;
}
