// Byte vectors of the data plane as the Node side (libs/messaging, built into dist/) writes and
// reads them, for the Python runner's tests (runners/python/tests/test_vectors.py).
//   node runners/python/tests/vectors/node-vectors.mjs write > runners/python/tests/vectors/node.json
//   node runners/python/tests/vectors/node-vectors.mjs check < python.json   (decodes Python's bytes)
// Run from the repository root after `npm run build`.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const dist = resolve('dist/libs/messaging/src/data-plane');
const load = (f) => import(join(dist, f));
const { encodeEnvelope, decodeEnvelope, MessageType } = await load('envelope.js');
const { PayloadCodec } = await load('payload.js');
const { encodeRecord, decodeRecord, formatRecordId } = await load('records.js');
const dr = await load('data-requests.js');
const { compressToFit, decompressIfNeeded } = await load('compression.js');
const { loadProtoRoot } = await load('proto-root.js');

const root = loadProtoRoot(resolve('runners/python/tests/krt/conformance.proto'));
const codec = new PayloadCodec(root);
const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (h) => new Uint8Array(Buffer.from(h, 'hex'));
const origin = { runtimeId: 'rt', version: 'v1', workflow: 'wf', node: 'n', replica: 'host-1' };
const time = new Date('2026-01-02T03:04:05.678Z');

function write() {
  const env = (messageType, payload, extra = {}) =>
    hex(encodeEnvelope({ requestId: 'req-1', fromNode: 'etl', messageType, payload, ...extra }));
  const object = { a: 1, b: 'x', c: [true, null, 2.5], d: { e: -3 } };
  const out = {
    envelopes: {
      typed: env(MessageType.OK, codec.pack({ mode: 'echo', text: 'hi', ms: 7, n: '9007199254740993' }, 'conf.Req')),
      struct: env(MessageType.OK, codec.pack(object)),
      value: env(MessageType.OK, codec.pack([1, 'two', false])),
      bytes: env(MessageType.OK, codec.pack(Buffer.from([0, 1, 2, 255]))),
      error: hex(encodeEnvelope({ requestId: 'req-1', fromNode: 'etl', messageType: MessageType.ERROR, error: 'node "etl" failed' })),
      earlyReply: env(MessageType.EARLY_REPLY, codec.pack({ step: 'early' })),
      earlyExit: env(MessageType.EARLY_EXIT, codec.pack({ step: 'exit' })),
      gzip: hex(compressToFit(encodeEnvelope({ requestId: 'req-1', fromNode: 'etl', messageType: MessageType.OK, payload: codec.pack({ blob: 'z'.repeat(5000) }) }), 1024)),
    },
    object,
    recordIds: [
      [0, 0, 0],
      [1767323045678, 0x0123456789, 42],
      [2 ** 48 - 1, 2 ** 40 - 1, 2 ** 40 - 1],
    ].map(([ms, random, counter]) => [ms, random, counter, formatRecordId(ms, random, counter)]),
    records: {
      logs: hex(encodeRecord('logs', { id: formatRecordId(time.getTime(), 1, 2), time, origin, level: 'WARN', message: 'hello', source: 'LOGGER', requestId: 'req-1', fields: { k: 1 } })),
      metrics: hex(encodeRecord('metrics', { start: time, end: time, origin, fromNode: 'entrypoint', count: 3, errors: 1, elapsedMsSum: 12.5, elapsedMsMax: 7, bucketBoundsMs: [1, 10], bucketCounts: [1, 2, 0] })),
      predictions: hex(encodeRecord('predictions', { time, origin, requestId: 'req-1', predictedValue: 'cat', trueValue: 'dog', extra: { score: 0.5 } })),
      measurements: hex(encodeRecord('measurements', { time, origin, name: 'latency', fields: { ms: 1.5, ok: true, who: 'me' }, tags: { host: 'h1' } })),
    },
    data: {
      save: hex(dr.encodeSaveRequest({ collection: 'people', document: { name: 'ana', age: 42 } })),
      find: hex(dr.encodeFindRequest({ collection: 'people', query: { age: { $gt: 40 } }, limit: 5, sort: { age: -1 } })),
      reply: hex(dr.encodeDataReply({ id: 'abc', documents: [{ _id: 'abc', name: 'ana' }] })),
    },
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

function check() {
  const input = JSON.parse(readFileSync(0, 'utf8'));
  const result = { envelopes: {}, records: {}, data: {} };
  for (const [name, h] of Object.entries(input.envelopes)) {
    const e = decodeEnvelope(decompressIfNeeded(unhex(h)));
    result.envelopes[name] = {
      requestId: e.requestId,
      fromNode: e.fromNode,
      messageType: MessageType[e.messageType],
      error: e.error ?? null,
      typeUrl: e.payload?.type_url ?? null,
      value: e.payload ? codec.toJson(e.payload, true) : null,
    };
  }
  for (const [kind, h] of Object.entries(input.records)) result.records[kind] = decodeRecord(kind, unhex(h));
  result.data.save = dr.decodeSaveRequest(unhex(input.data.save));
  result.data.find = dr.decodeFindRequest(unhex(input.data.find));
  result.data.reply = dr.decodeDataReply(unhex(input.data.reply));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (process.argv[2] === 'write') write();
else if (process.argv[2] === 'check') check();
else throw new Error('usage: node-vectors.mjs write|check');
