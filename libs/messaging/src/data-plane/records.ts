import { randomInt } from 'node:crypto';
import type protobuf from 'protobufjs';
import { z } from 'zod';
import { type JsonValue, ProtoJsonError, decodeToJson, encodeFromJson } from './proto-json.js';
import { kreProtos } from './proto-root.js';

/** The observability record kinds and their subjects' last token (`<p>.<rt>.obs.<kind>`). */
export type RecordKind = 'logs' | 'metrics' | 'predictions' | 'measurements';

const TYPE_OF: Record<RecordKind, string> = {
  logs: 'kre.records.LogRecord',
  metrics: 'kre.records.NodeMetric',
  predictions: 'kre.records.Prediction',
  measurements: 'kre.records.Measurement',
};

/** Which workload published a record. */
export interface Origin {
  runtimeId: string;
  version: string;
  /** Empty for the entrypoint. */
  workflow: string;
  /** Node id, or `entrypoint`. */
  node: string;
  /** One per process. */
  replica: string;
}

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
export type LogSource =
  'LOGGER' | 'STDOUT' | 'STDERR' | 'RUNNER' | 'DEPLOYER' | 'ENTRYPOINT' | 'INGESTION';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** A producer-made record id (proto/kre/records.proto): 26 Crockford base32 characters. */
export const RECORD_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const FORTY_BITS = 2 ** 40;

function base32(value: number, chars: number): string {
  let out = '';
  for (let i = 0; i < chars; i++) {
    out = CROCKFORD[value % 32] + out;
    value = Math.floor(value / 32);
  }
  return out;
}

/** The id of (milliseconds, process random, counter): 10 + 8 + 8 Crockford base32 characters. */
export function formatRecordId(ms: number, processRandom: number, counter: number): string {
  return base32(ms, 10) + base32(processRandom % FORTY_BITS, 8) + base32(counter % FORTY_BITS, 8);
}

/**
 * Makes record ids for one process (`id` in proto/kre/records.proto): unique because the counter
 * never repeats within the process and the random part tells processes apart (a restarted replica
 * keeps its replica name, so the name alone would not); sorted by time, then emission order.
 */
export class RecordIds {
  private counter = 0;
  private lastMs = 0;

  constructor(
    private readonly processRandom: number = randomInt(0, FORTY_BITS),
    private readonly now: () => number = Date.now,
  ) {}

  next(): string {
    // Never backwards (a clock step back would break the order within the process).
    this.lastMs = Math.max(this.lastMs, this.now());
    return formatRecordId(this.lastMs, this.processRandom, this.counter++);
  }
}

const processIds = new RecordIds();
/** A fresh record id from this process's generator. */
export function newRecordId(): string {
  return processIds.next();
}

export interface LogRecordInput {
  /** The producer-made id (`newRecordId()`); omitted only by producers that predate it. */
  id?: string;
  time: Date;
  origin: Origin;
  level: LogLevel;
  message: string;
  requestId?: string;
  source: LogSource;
  fields?: Record<string, JsonValue>;
}

export interface NodeMetricInput {
  id?: string;
  start: Date;
  end: Date;
  origin: Origin;
  fromNode: string;
  count: number;
  errors: number;
  elapsedMsSum: number;
  elapsedMsMax: number;
  bucketBoundsMs: readonly number[];
  bucketCounts: readonly number[];
}

export interface PredictionInput {
  id?: string;
  time: Date;
  origin: Origin;
  requestId?: string;
  predictedValue?: string;
  trueValue?: string;
  error?: 'MISSING_VALUES' | 'NEW_LABELS';
  extra?: Record<string, JsonValue>;
}

export interface MeasurementInput {
  id?: string;
  time: Date;
  origin: Origin;
  requestId?: string;
  name: string;
  fields: Record<string, number | boolean | string>;
  tags?: Record<string, string>;
}

export interface RecordInputs {
  logs: LogRecordInput;
  metrics: NodeMetricInput;
  predictions: PredictionInput;
  measurements: MeasurementInput;
}

/** A record that does not match its schema; `problems` lists every violation. */
export class InvalidRecordError extends Error {
  constructor(
    readonly kind: RecordKind,
    readonly problems: readonly string[],
  ) {
    super(`invalid ${kind} record: ${problems.join('; ')}`);
    this.name = 'InvalidRecordError';
  }
}

const types = new Map<RecordKind, protobuf.Type>();
const typeOf = (kind: RecordKind) => {
  let type = types.get(kind);
  if (!type) {
    type = kreProtos().lookupType(TYPE_OF[kind]);
    types.set(kind, type);
  }
  return type;
};

/** The record in proto3 JSON, checked against its proto on the way in. */
function toJson<K extends RecordKind>(kind: K, record: RecordInputs[K]): JsonValue {
  const r = record as unknown as Record<string, unknown>;
  const base: { origin: Record<string, JsonValue>; requestId?: string } = {
    origin: { ...(r.origin as Origin) },
  };
  if (typeof r.requestId === 'string' && r.requestId) base.requestId = r.requestId;
  const id: { id?: string } = typeof r.id === 'string' && r.id ? { id: r.id } : {};
  switch (kind) {
    case 'logs': {
      const l = record as LogRecordInput;
      return {
        ...id,
        ...base,
        time: l.time.toISOString(),
        level: `LOG_LEVEL_${l.level}`,
        message: l.message,
        source: `LOG_SOURCE_${l.source}`,
        ...(l.fields ? { fields: l.fields } : {}),
      };
    }
    case 'metrics': {
      const m = record as NodeMetricInput;
      return {
        ...id,
        origin: base.origin,
        start: m.start.toISOString(),
        end: m.end.toISOString(),
        fromNode: m.fromNode,
        count: String(m.count),
        errors: String(m.errors),
        elapsedMsSum: m.elapsedMsSum,
        elapsedMsMax: m.elapsedMsMax,
        bucketBoundsMs: [...m.bucketBoundsMs],
        bucketCounts: m.bucketCounts.map(String),
      };
    }
    case 'predictions': {
      const p = record as PredictionInput;
      return {
        ...id,
        ...base,
        time: p.time.toISOString(),
        predictedValue: p.predictedValue ?? '',
        trueValue: p.trueValue ?? '',
        error: p.error ? `PREDICTION_ERROR_${p.error}` : 'PREDICTION_ERROR_NONE',
        ...(p.extra ? { extra: p.extra } : {}),
      };
    }
    case 'measurements': {
      const m = record as MeasurementInput;
      return {
        ...id,
        ...base,
        time: m.time.toISOString(),
        name: m.name,
        fields: m.fields,
        tags: m.tags ?? {},
      };
    }
    default:
      throw new Error(`unknown record kind ${String(kind)}`);
  }
}

/**
 * Encodes a record, after checking it against its schema.
 * @throws InvalidRecordError listing what is wrong.
 */
export function encodeRecord<K extends RecordKind>(kind: K, record: RecordInputs[K]): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = encodeFromJson(typeOf(kind), toJson(kind, record));
  } catch (error) {
    if (error instanceof ProtoJsonError) throw new InvalidRecordError(kind, [error.message]);
    throw error;
  }
  decodeRecord(kind, bytes); // the same rules as receivers apply
  return bytes;
}

const slug = z.string().regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/, 'must be a slug');
const origin = z.object({
  runtimeId: slug,
  version: slug,
  workflow: z.union([slug, z.literal('')]).optional(),
  node: z.string().min(1),
  replica: z.string().min(1),
});
const time = z.string().min(1);
/** Absent in records of producers that predate it (mongo-writer then keys by stream sequence). */
const id = z.string().regex(RECORD_ID, 'must be 26 Crockford base32 characters').optional();
const count = z.coerce.number().int().min(0);

const schemas: Record<RecordKind, z.ZodType> = {
  logs: z.object({
    id,
    time,
    origin,
    level: z.enum(['LOG_LEVEL_DEBUG', 'LOG_LEVEL_INFO', 'LOG_LEVEL_WARN', 'LOG_LEVEL_ERROR']),
    message: z.string().min(1),
    requestId: z.string().optional(),
    source: z.enum([
      'LOG_SOURCE_LOGGER',
      'LOG_SOURCE_STDOUT',
      'LOG_SOURCE_STDERR',
      'LOG_SOURCE_RUNNER',
      'LOG_SOURCE_DEPLOYER',
      'LOG_SOURCE_ENTRYPOINT',
      'LOG_SOURCE_INGESTION',
    ]),
    fields: z.record(z.string(), z.unknown()).optional(),
  }),
  metrics: z
    .object({
      id,
      start: time,
      end: time,
      origin,
      fromNode: z.string().min(1),
      count,
      errors: count.optional(),
      elapsedMsSum: z.number().min(0).optional(),
      elapsedMsMax: z.number().min(0).optional(),
      bucketBoundsMs: z.array(z.number()).min(1),
      bucketCounts: z.array(count),
    })
    .refine((m) => m.bucketCounts.length === m.bucketBoundsMs.length + 1, {
      message: 'bucketCounts must have one entry more than bucketBoundsMs',
    })
    .refine((m) => m.bucketCounts.reduce((a, b) => a + b, 0) === m.count, {
      message: 'bucketCounts must add up to count',
    })
    .refine((m) => (m.errors ?? 0) <= m.count, { message: 'errors must not exceed count' })
    .refine((m) => Date.parse(m.end) >= Date.parse(m.start), {
      message: 'end must not precede start',
    }),
  predictions: z
    .object({
      id,
      time,
      origin,
      requestId: z.string().optional(),
      predictedValue: z.string().optional(),
      trueValue: z.string().optional(),
      error: z
        .enum([
          'PREDICTION_ERROR_NONE',
          'PREDICTION_ERROR_MISSING_VALUES',
          'PREDICTION_ERROR_NEW_LABELS',
        ])
        .optional(),
      extra: z.record(z.string(), z.unknown()).optional(),
    })
    .refine(
      (p) =>
        (p.error && p.error !== 'PREDICTION_ERROR_NONE') || (!!p.predictedValue && !!p.trueValue),
      {
        message:
          'predictedValue and trueValue are required unless error is MISSING_VALUES or NEW_LABELS',
      },
    ),
  measurements: z.object({
    id,
    time,
    origin,
    requestId: z.string().optional(),
    name: z.string().min(1),
    fields: z
      .record(z.string(), z.union([z.number(), z.boolean(), z.string()]))
      .refine((f) => Object.keys(f).length > 0, { message: 'at least one field is required' }),
    tags: z.record(z.string(), z.string()).optional(),
  }),
};

/**
 * Decodes a record and checks it against its schema (the proto, plus the rules its comments
 * state). Returns its proto3 JSON form.
 * @throws InvalidRecordError listing every problem.
 */
export function decodeRecord(kind: RecordKind, bytes: Uint8Array): Record<string, JsonValue> {
  let json: JsonValue;
  try {
    json = decodeToJson(typeOf(kind), bytes);
  } catch (error) {
    throw new InvalidRecordError(kind, [
      `not a ${TYPE_OF[kind]}: ${error instanceof Error ? error.message : String(error)}`,
    ]);
  }
  const result = schemas[kind].safeParse(json);
  if (!result.success)
    throw new InvalidRecordError(
      kind,
      result.error.issues.map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`),
    );
  return json as Record<string, JsonValue>;
}
