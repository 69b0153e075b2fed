import { describe, expect, it } from 'vitest';
import type { OtlpKeyValue } from './otlp-json.js';
import { DEFAULT_TRACE_RELAY_LIMITS, relayedTraceBatch } from './trace-relay.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const str = (key: string, value: string) => ({ key, value: { stringValue: value } });

function span(overrides: Record<string, unknown> = {}) {
  return {
    traceId: TRACE,
    spanId: '00f067aa0ba902b7',
    parentSpanId: 'b7ad6b7169203331',
    name: 'node first',
    kind: 5,
    startTimeUnixNano: '1765000000000000000',
    endTimeUnixNano: 1765000000100000000,
    attributes: [str('kre.node', 'first'), { key: 'n', value: { intValue: 3 } }],
    events: [{ timeUnixNano: '1765000000050000000', name: 'step', attributes: [] }],
    status: { code: 2, message: 'broken' },
    ...overrides,
  };
}

function batch(resource: OtlpKeyValue[], spans: unknown[], extra: Record<string, unknown> = {}) {
  return new TextEncoder().encode(
    JSON.stringify({
      resourceSpans: [
        { resource: { attributes: resource }, scopeSpans: [{ scope: { name: 'kre' }, spans }] },
      ],
      ...extra,
    }),
  );
}

const attrs = (kvs: OtlpKeyValue[]) => Object.fromEntries(kvs.map((kv) => [kv.key, kv.value]));

describe(relayedTraceBatch.name, () => {
  it('keeps a well-formed batch, with the runtime of the subject on its resource', () => {
    const result = relayedTraceBatch(
      batch([str('service.name', 'runner'), str('kre.node', 'first')], [span()]),
      'alpha',
    );
    expect(result).toMatchObject({ ok: true, spans: 1 });
    if (!result.ok) return;
    const [rs] = result.resourceSpans;
    expect(attrs(rs.resource.attributes)).toEqual({
      'service.name': { stringValue: 'runner' },
      'kre.node': { stringValue: 'first' },
      'kre.runtime': { stringValue: 'alpha' },
    });
    expect(rs.scopeSpans[0].spans[0]).toMatchObject({
      traceId: TRACE,
      parentSpanId: 'b7ad6b7169203331',
      name: 'node first',
      kind: 5,
      endTimeUnixNano: String(BigInt(1765000000100000000)),
      attributes: [str('kre.node', 'first'), { key: 'n', value: { intValue: '3' } }],
      events: [{ name: 'step', timeUnixNano: '1765000000050000000' }],
      status: { code: 2, message: 'broken' },
    });
  });

  it("attributes a batch claiming another runtime to the subject's runtime, on the resource and in every span, event and link", () => {
    const forged = span({
      attributes: [str('kre.runtime', 'beta'), str('kre.node', 'x')],
      events: [{ timeUnixNano: '1', name: 'e', attributes: [str('kre.runtime', 'beta')] }],
      links: [
        { traceId: TRACE, spanId: '1111111111111111', attributes: [str('kre.runtime', 'beta')] },
      ],
    });
    const result = relayedTraceBatch(
      batch([str('kre.runtime', 'beta'), str('service.name', 'gateway')], [forged]),
      'alpha',
    );
    if (!result.ok) throw new Error(result.detail);
    const [rs] = result.resourceSpans;
    expect(rs.resource.attributes.filter((kv) => kv.key === 'kre.runtime')).toEqual([
      str('kre.runtime', 'alpha'),
    ]);
    const [out] = rs.scopeSpans[0].spans;
    expect(JSON.stringify(out)).not.toContain('beta');
    expect(out.attributes).toEqual([str('kre.node', 'x')]);
  });

  it('leaves out fields OTLP does not define', () => {
    const result = relayedTraceBatch(
      batch([], [span({ injected: { $where: 'x' } })], { injected: true }),
      'alpha',
    );
    if (!result.ok) throw new Error(result.detail);
    expect(JSON.stringify(result.resourceSpans)).not.toContain('injected');
  });

  it.each([
    ['not JSON', new TextEncoder().encode('{"resourceSpans": ['), /body: is not UTF-8 JSON/],
    ['not UTF-8', new Uint8Array([0x7b, 0xff, 0x7d]), /is not UTF-8 JSON/],
    ['an array', new TextEncoder().encode('[]'), /body: must be an object/],
    ['a bad trace id', batch([], [span({ traceId: 'XYZ' })]), /traceId: must be a non-zero/],
    ['an all-zero span id', batch([], [span({ spanId: '0000000000000000' })]), /spanId/],
    ['a kind out of range', batch([], [span({ kind: 9 })]), /kind: must be an integer/],
    ['a bad time', batch([], [span({ startTimeUnixNano: 'soon' })]), /startTimeUnixNano/],
    ['a nameless span', batch([], [span({ name: 42 })]), /name: must be a string/],
    [
      'a value with two fields',
      batch(
        [],
        [span({ attributes: [{ key: 'k', value: { stringValue: 'a', boolValue: true } }] })],
      ),
      /exactly one of/,
    ],
    [
      'a nested array',
      batch(
        [],
        [
          span({
            attributes: [
              { key: 'k', value: { arrayValue: { values: [{ arrayValue: { values: [] } }] } } },
            ],
          }),
        ],
      ),
      /arrays may not nest/,
    ],
    [
      'a kvlist value',
      batch([], [span({ attributes: [{ key: 'k', value: { kvlistValue: {} } }] })]),
      /not a supported value/,
    ],
  ])('refuses %s as malformed, naming where', (_what, data, detail) => {
    const result = relayedTraceBatch(data, 'alpha');
    expect(result).toMatchObject({ ok: false, reason: 'malformed' });
    if (!result.ok) expect(result.detail).toMatch(detail);
  });

  it('refuses a message over the byte limit, or a batch over the span limit, as too large', () => {
    const limits = { ...DEFAULT_TRACE_RELAY_LIMITS, maxBytes: 2_000, maxSpans: 2 };
    const big = batch([str('pad', 'x'.repeat(3_000))], [span()]);
    expect(relayedTraceBatch(big, 'alpha', limits)).toMatchObject({
      ok: false,
      reason: 'too_large',
    });
    const many = batch([], [span(), span(), span()]);
    expect(relayedTraceBatch(many, 'alpha', { ...limits, maxBytes: 1e6 })).toMatchObject({
      ok: false,
      reason: 'too_large',
      detail: 'more than 2 spans',
    });
  });

  it('cuts long strings and counts the attributes, events and links past the limits', () => {
    const limits = { ...DEFAULT_TRACE_RELAY_LIMITS, maxString: 5, maxAttributes: 2, maxEvents: 1 };
    const result = relayedTraceBatch(
      batch(
        [str('a', '1'), str('b', '2'), str('c', '3')],
        [
          span({
            name: 'a very long name',
            attributes: [str('a', 'x'), str('b', 'y'), str('c', 'z')],
            droppedAttributesCount: 4,
            events: [
              { timeUnixNano: '1', name: 'one' },
              { timeUnixNano: '2', name: 'two' },
            ],
          }),
        ],
      ),
      'alpha',
      limits,
    );
    if (!result.ok) throw new Error(result.detail);
    const [rs] = result.resourceSpans;
    // One place kept for kre.runtime.
    expect(rs.resource.attributes.map((kv) => kv.key)).toEqual(['a', 'kre.runtime']);
    expect(rs.resource.droppedAttributesCount).toBe(2);
    expect(rs.scopeSpans[0].spans[0]).toMatchObject({
      name: 'a ver',
      droppedAttributesCount: 5,
      events: [{ name: 'one' }],
      droppedEventsCount: 1,
    });
  });
});
