import type { Attributes, HrTime } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';

/**
 * The OTLP/HTTP JSON encoding of trace exports (opentelemetry-proto `ExportTraceServiceRequest`,
 * JSON mapping: hex ids, enums as numbers, 64-bit integers as strings). What KRE's exporters
 * send over NATS (the workloads' relay) and what mongo-writer forwards; types only: this module
 * loads nothing of the SDK.
 */
export interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
  arrayValue?: { values: OtlpAnyValue[] };
}
export interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}
export interface OtlpEvent {
  timeUnixNano: string;
  name: string;
  attributes: OtlpKeyValue[];
  droppedAttributesCount?: number;
}
export interface OtlpLink {
  traceId: string;
  spanId: string;
  traceState?: string;
  attributes: OtlpKeyValue[];
  droppedAttributesCount?: number;
}
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpKeyValue[];
  droppedAttributesCount?: number;
  events: OtlpEvent[];
  droppedEventsCount?: number;
  links: OtlpLink[];
  droppedLinksCount?: number;
  status?: { code: number; message?: string };
}
export interface OtlpScopeSpans {
  scope: { name: string; version?: string };
  spans: OtlpSpan[];
}
export interface OtlpResourceSpans {
  resource: { attributes: OtlpKeyValue[]; droppedAttributesCount?: number };
  scopeSpans: OtlpScopeSpans[];
}
export interface OtlpTraceExport {
  resourceSpans: OtlpResourceSpans[];
}

function anyValue(value: unknown): OtlpAnyValue | undefined {
  if (Array.isArray(value)) {
    const values: OtlpAnyValue[] = [];
    for (const item of value as unknown[]) {
      const one = anyValue(item);
      if (one) values.push(one);
    }
    return { arrayValue: { values } };
  }
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number')
    return Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value };
  return undefined; // unset (attribute values are only these)
}

/** OTLP key-values of an attribute map (unset values left out). */
export function otlpAttributes(attributes: Attributes | undefined): OtlpKeyValue[] {
  const out: OtlpKeyValue[] = [];
  for (const [key, raw] of Object.entries(attributes ?? {})) {
    const value = anyValue(raw);
    if (value) out.push({ key, value });
  }
  return out;
}

function nanos([seconds, nanoseconds]: HrTime): string {
  return (BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds)).toString();
}

function otlpSpan(span: ReadableSpan): OtlpSpan {
  const context = span.spanContext();
  const traceState = context.traceState?.serialize();
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    ...(span.parentSpanContext ? { parentSpanId: span.parentSpanContext.spanId } : {}),
    ...(traceState ? { traceState } : {}),
    name: span.name,
    // The API's SpanKind counts from INTERNAL = 0; OTLP's from UNSPECIFIED = 0.
    kind: span.kind + 1,
    startTimeUnixNano: nanos(span.startTime),
    endTimeUnixNano: nanos(span.endTime),
    attributes: otlpAttributes(span.attributes),
    droppedAttributesCount: span.droppedAttributesCount,
    events: span.events.map((e) => ({
      timeUnixNano: nanos(e.time),
      name: e.name,
      attributes: otlpAttributes(e.attributes),
      droppedAttributesCount: e.droppedAttributesCount ?? 0,
    })),
    droppedEventsCount: span.droppedEventsCount,
    links: span.links.map((l) => ({
      traceId: l.context.traceId,
      spanId: l.context.spanId,
      attributes: otlpAttributes(l.attributes),
      droppedAttributesCount: l.droppedAttributesCount ?? 0,
    })),
    droppedLinksCount: span.droppedLinksCount,
    status: {
      code: span.status.code,
      ...(span.status.message ? { message: span.status.message } : {}),
    },
  };
}

/**
 * One export request of `spans`, grouped by resource and instrumentation scope (a process has one
 * resource: in practice one group per scope).
 */
export function otlpTraceExport(spans: readonly ReadableSpan[]): OtlpTraceExport {
  const byResource = new Map<unknown, { rs: OtlpResourceSpans; scopes: Map<string, OtlpSpan[]> }>();
  for (const span of spans) {
    let group = byResource.get(span.resource);
    if (!group) {
      group = {
        rs: { resource: { attributes: otlpAttributes(span.resource.attributes) }, scopeSpans: [] },
        scopes: new Map(),
      };
      byResource.set(span.resource, group);
    }
    const { name, version = '' } = span.instrumentationScope;
    const key = `${name}\u0000${version}`;
    let list = group.scopes.get(key);
    if (!list) {
      list = [];
      group.scopes.set(key, list);
      group.rs.scopeSpans.push({ scope: { name, ...(version ? { version } : {}) }, spans: list });
    }
    list.push(otlpSpan(span));
  }
  return { resourceSpans: [...byResource.values()].map((g) => g.rs) };
}
