import type {
  OtlpAnyValue,
  OtlpEvent,
  OtlpKeyValue,
  OtlpLink,
  OtlpResourceSpans,
  OtlpScopeSpans,
  OtlpSpan,
} from './otlp-json.js';

/**
 * What a relayed batch may hold: a workload is tenant code, so what it publishes on its traces
 * subject is hostile input. Past a count limit the extra attributes, events and links are left
 * out (counted in the span's `dropped…Count`, as an SDK's span limits do); past the byte or span
 * limit the whole batch is refused.
 */
export interface TraceRelayLimits {
  /** Largest message (bytes) taken at all. */
  readonly maxBytes: number;
  /** Spans in one batch. */
  readonly maxSpans: number;
  /** Attributes of one resource, span, event or link. */
  readonly maxAttributes: number;
  /** Events, and links, of one span. */
  readonly maxEvents: number;
  /** Characters of a string (attribute values, names, status messages): longer ones are cut. */
  readonly maxString: number;
  /** Items of an array attribute value. */
  readonly maxArray: number;
}

export const DEFAULT_TRACE_RELAY_LIMITS: TraceRelayLimits = Object.freeze({
  maxBytes: 1024 * 1024,
  maxSpans: 2_048,
  maxAttributes: 128,
  maxEvents: 128,
  maxString: 4_096,
  maxArray: 128,
});

/** The attribute naming a span's runtime: set from the NATS subject, never from the payload. */
export const RUNTIME_ATTRIBUTE = 'kre.runtime';

/** Why a relayed batch was refused (the label of the dropped-batches metric). */
export type TraceRelayRefusal = 'too_large' | 'malformed';

export type TraceRelayResult =
  | { ok: true; resourceSpans: OtlpResourceSpans[]; spans: number }
  | { ok: false; reason: TraceRelayRefusal; detail: string };

class Refused extends Error {
  constructor(
    readonly reason: TraceRelayRefusal,
    detail: string,
  ) {
    super(detail);
  }
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const NANOS = /^\d{1,20}$/;
const MAX_KEY = 256;

const decoder = new TextDecoder('utf-8', { fatal: true });

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(path: string, problem: string): never {
  throw new Refused('malformed', `${path}: ${problem}`);
}

function object(value: unknown, path: string): Json {
  if (!isObject(value)) fail(path, 'must be an object');
  return value;
}

function list(value: unknown, path: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(path, 'must be an array');
  return value;
}

/**
 * Re-checks one OTLP JSON trace export a workload relayed and rebuilds it from the fields OTLP
 * defines (anything else is left out). Its resources are forced to name `runtimeId` (the
 * runtime of the subject it came on, which NATS permissions tie to the publisher) under
 * `kre.runtime`, and that attribute is removed from spans, events and links, so no runtime's
 * workload can pass its spans off as another runtime's.
 */
export function relayedTraceBatch(
  data: Uint8Array,
  runtimeId: string,
  limits: TraceRelayLimits = DEFAULT_TRACE_RELAY_LIMITS,
): TraceRelayResult {
  try {
    if (data.length > limits.maxBytes)
      throw new Refused('too_large', `${data.length} bytes, over ${limits.maxBytes}`);
    let body: unknown;
    try {
      body = JSON.parse(decoder.decode(data));
    } catch {
      fail('body', 'is not UTF-8 JSON');
    }
    const checker = new BatchChecker(runtimeId, limits);
    const resourceSpans = list(object(body, 'body').resourceSpans, 'resourceSpans').map((rs, i) =>
      checker.resourceSpans(rs, `resourceSpans[${i}]`),
    );
    return { ok: true, resourceSpans, spans: checker.spans };
  } catch (error) {
    if (error instanceof Refused) return { ok: false, reason: error.reason, detail: error.message };
    throw error;
  }
}

class BatchChecker {
  spans = 0;

  constructor(
    private readonly runtimeId: string,
    private readonly limits: TraceRelayLimits,
  ) {}

  resourceSpans(value: unknown, path: string): OtlpResourceSpans {
    const rs = object(value, path);
    const resource = rs.resource === undefined ? {} : object(rs.resource, `${path}.resource`);
    const { attributes, dropped } = this.attributes(
      resource.attributes,
      `${path}.resource.attributes`,
      (key) => key !== RUNTIME_ATTRIBUTE,
      1,
    );
    attributes.push({ key: RUNTIME_ATTRIBUTE, value: { stringValue: this.runtimeId } });
    return {
      resource: {
        attributes,
        droppedAttributesCount: this.count(resource.droppedAttributesCount, path) + dropped,
      },
      scopeSpans: list(rs.scopeSpans, `${path}.scopeSpans`).map((ss, i) =>
        this.scopeSpans(ss, `${path}.scopeSpans[${i}]`),
      ),
    };
  }

  private scopeSpans(value: unknown, path: string): OtlpScopeSpans {
    const ss = object(value, path);
    const scope = ss.scope === undefined ? {} : object(ss.scope, `${path}.scope`);
    const version = this.optionalString(scope.version, `${path}.scope.version`);
    return {
      scope: {
        name: this.optionalString(scope.name, `${path}.scope.name`) ?? '',
        ...(version ? { version } : {}),
      },
      spans: list(ss.spans, `${path}.spans`).map((span, i) =>
        this.span(span, `${path}.spans[${i}]`),
      ),
    };
  }

  private span(value: unknown, path: string): OtlpSpan {
    if (++this.spans > this.limits.maxSpans)
      throw new Refused('too_large', `more than ${this.limits.maxSpans} spans`);
    const s = object(value, path);
    const attributes = this.spanAttributes(s, path);
    const events = list(s.events, `${path}.events`);
    const links = list(s.links, `${path}.links`);
    const parent =
      s.parentSpanId === undefined || s.parentSpanId === '' ? undefined : s.parentSpanId;
    const traceState = this.optionalString(s.traceState, `${path}.traceState`);
    const kind = s.kind ?? 0;
    if (typeof kind !== 'number' || !Number.isInteger(kind) || kind < 0 || kind > 5)
      fail(`${path}.kind`, 'must be an integer from 0 to 5');
    return {
      traceId: this.id(s.traceId, HEX32, `${path}.traceId`),
      spanId: this.id(s.spanId, HEX16, `${path}.spanId`),
      ...(parent !== undefined
        ? { parentSpanId: this.id(parent, HEX16, `${path}.parentSpanId`) }
        : {}),
      ...(traceState ? { traceState } : {}),
      name: this.string(s.name, `${path}.name`),
      kind,
      startTimeUnixNano: this.nanos(s.startTimeUnixNano, `${path}.startTimeUnixNano`),
      endTimeUnixNano: this.nanos(s.endTimeUnixNano, `${path}.endTimeUnixNano`),
      attributes: attributes.attributes,
      droppedAttributesCount: this.count(s.droppedAttributesCount, path) + attributes.dropped,
      events: events
        .slice(0, this.limits.maxEvents)
        .map((e, i) => this.event(e, `${path}.events[${i}]`)),
      droppedEventsCount:
        this.count(s.droppedEventsCount, path) + Math.max(0, events.length - this.limits.maxEvents),
      links: links
        .slice(0, this.limits.maxEvents)
        .map((l, i) => this.link(l, `${path}.links[${i}]`)),
      droppedLinksCount:
        this.count(s.droppedLinksCount, path) + Math.max(0, links.length - this.limits.maxEvents),
      ...(s.status === undefined ? {} : { status: this.status(s.status, `${path}.status`) }),
    };
  }

  private spanAttributes(s: Json, path: string) {
    return this.attributes(s.attributes, `${path}.attributes`, (key) => key !== RUNTIME_ATTRIBUTE);
  }

  private event(value: unknown, path: string): OtlpEvent {
    const e = object(value, path);
    const { attributes, dropped } = this.spanAttributes(e, path);
    return {
      timeUnixNano: this.nanos(e.timeUnixNano, `${path}.timeUnixNano`),
      name: this.string(e.name, `${path}.name`),
      attributes,
      droppedAttributesCount: this.count(e.droppedAttributesCount, path) + dropped,
    };
  }

  private link(value: unknown, path: string): OtlpLink {
    const l = object(value, path);
    const { attributes, dropped } = this.spanAttributes(l, path);
    const traceState = this.optionalString(l.traceState, `${path}.traceState`);
    return {
      traceId: this.id(l.traceId, HEX32, `${path}.traceId`),
      spanId: this.id(l.spanId, HEX16, `${path}.spanId`),
      ...(traceState ? { traceState } : {}),
      attributes,
      droppedAttributesCount: this.count(l.droppedAttributesCount, path) + dropped,
    };
  }

  private status(value: unknown, path: string): { code: number; message?: string } {
    const st = object(value, path);
    const code = st.code ?? 0;
    if (code !== 0 && code !== 1 && code !== 2) fail(`${path}.code`, 'must be 0, 1 or 2');
    const message = this.optionalString(st.message, `${path}.message`);
    return { code, ...(message ? { message } : {}) };
  }

  /** Key-values, those `keep` refuses removed; past `maxAttributes` (less `room`) dropped. */
  private attributes(
    value: unknown,
    path: string,
    keep: (key: string) => boolean,
    room = 0,
  ): { attributes: OtlpKeyValue[]; dropped: number } {
    const attributes: OtlpKeyValue[] = [];
    let dropped = 0;
    for (const [i, raw] of list(value, path).entries()) {
      const kv = object(raw, `${path}[${i}]`);
      const key = kv.key;
      if (typeof key !== 'string' || !key || key.length > MAX_KEY)
        fail(`${path}[${i}].key`, `must be a string of 1 to ${MAX_KEY} characters`);
      const checked = this.anyValue(kv.value, `${path}[${i}].value`, true);
      if (!keep(key)) continue;
      if (attributes.length >= this.limits.maxAttributes - room) {
        dropped++;
        continue;
      }
      attributes.push({ key, value: checked });
    }
    return { attributes, dropped };
  }

  private anyValue(value: unknown, path: string, arrays: boolean): OtlpAnyValue {
    const v = object(value, path);
    const fields = Object.keys(v).filter((k) => v[k] !== undefined && v[k] !== null);
    if (fields.length !== 1)
      fail(
        path,
        'must hold exactly one of stringValue, boolValue, intValue, doubleValue, arrayValue',
      );
    const [field] = fields;
    const x = v[field];
    switch (field) {
      case 'stringValue':
        return { stringValue: this.string(x, `${path}.stringValue`) };
      case 'boolValue':
        if (typeof x !== 'boolean') fail(`${path}.boolValue`, 'must be a boolean');
        return { boolValue: x };
      case 'intValue':
        if (
          !(typeof x === 'number' && Number.isSafeInteger(x)) &&
          !(typeof x === 'string' && /^-?\d{1,19}$/.test(x))
        )
          fail(`${path}.intValue`, 'must be an integer');
        return { intValue: String(x) };
      case 'doubleValue':
        if (typeof x !== 'number' || !Number.isFinite(x))
          fail(`${path}.doubleValue`, 'must be a finite number');
        return { doubleValue: x };
      case 'arrayValue': {
        if (!arrays) fail(`${path}.arrayValue`, 'arrays may not nest');
        const values = list(object(x, `${path}.arrayValue`).values, `${path}.arrayValue.values`);
        if (values.length > this.limits.maxArray)
          fail(`${path}.arrayValue.values`, `more than ${this.limits.maxArray} items`);
        return {
          arrayValue: {
            values: values.map((item, i) =>
              this.anyValue(item, `${path}.arrayValue.values[${i}]`, false),
            ),
          },
        };
      }
      default:
        return fail(path, `"${field}" is not a supported value`);
    }
  }

  private id(value: unknown, pattern: RegExp, path: string): string {
    if (typeof value !== 'string' || !pattern.test(value) || /^0+$/.test(value))
      fail(path, 'must be a non-zero lowercase hex id');
    return value;
  }

  private nanos(value: unknown, path: string): string {
    // A JSON number of nanoseconds is past 2^53 (today's times are): taken as parsed, to within
    // a few hundred nanoseconds.
    const text =
      typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 2 ** 64
        ? BigInt(value).toString()
        : value;
    if (typeof text !== 'string' || !NANOS.test(text)) fail(path, 'must be a count of nanoseconds');
    return text;
  }

  private count(value: unknown, path: string): number {
    if (value === undefined || value === null) return 0;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 2 ** 31)
      fail(`${path}: a dropped count`, 'must be a non-negative integer');
    return value;
  }

  private string(value: unknown, path: string): string {
    if (typeof value !== 'string') fail(path, 'must be a string');
    return value.length > this.limits.maxString ? value.slice(0, this.limits.maxString) : value;
  }

  private optionalString(value: unknown, path: string): string | undefined {
    return value === undefined || value === null ? undefined : this.string(value, path);
  }
}
