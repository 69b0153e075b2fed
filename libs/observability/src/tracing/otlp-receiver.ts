import { type Server, createServer } from 'node:http';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';

/** One span as an OTLP/HTTP JSON export carries it, with its service's name. */
export interface ReceivedSpan {
  service: string;
  /** Its resource's attributes (`service.name`, `kre.runtime`, …). */
  resource: Record<string, unknown>;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  status?: { code?: number; message?: string };
  events: { name: string }[];
}

interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface KeyValue {
  key: string;
  value: AnyValue;
}
interface ExportBody {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      spans?: (Omit<ReceivedSpan, 'service' | 'resource' | 'attributes' | 'events'> & {
        attributes?: KeyValue[];
        events?: { name: string }[];
      })[];
    }[];
  }[];
}

const valueOf = (v: AnyValue): unknown =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.doubleValue ?? v.boolValue));
const attributesOf = (kvs: KeyValue[] = []) =>
  Object.fromEntries(kvs.map((kv) => [kv.key, valueOf(kv.value)]));

/**
 * A minimal OTLP/HTTP receiver of JSON trace exports (`POST /v1/traces`), for tests and local
 * debugging: it keeps every span it was sent. Protobuf exports are refused (415): KRE's
 * exporters (both runners, every app) send JSON.
 */
export class OtlpJsonReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Export requests received. */
  exports = 0;
  private readonly server: Server;

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/v1/traces') {
          res.writeHead(404).end();
          return;
        }
        if (!String(req.headers['content-type']).startsWith('application/json')) {
          res.writeHead(415).end();
          return;
        }
        let raw = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
        this.exports++;
        this.take(JSON.parse(raw.toString('utf8')) as ExportBody);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
  }

  private take(body: ExportBody): void {
    for (const rs of body.resourceSpans ?? []) {
      const resource = attributesOf(rs.resource?.attributes);
      const name = resource['service.name'];
      const service = typeof name === 'string' ? name : '';
      for (const ss of rs.scopeSpans ?? [])
        for (const span of ss.spans ?? [])
          this.spans.push({
            ...span,
            service,
            resource,
            parentSpanId: span.parentSpanId ?? '',
            attributes: attributesOf(span.attributes),
            events: span.events ?? [],
          });
    }
  }

  /** Listens on 127.0.0.1 and resolves with the base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`). */
  async start(): Promise<string> {
    await new Promise<void>((done) => this.server.listen(0, '127.0.0.1', done));
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('OTLP receiver has no port');
    return `http://127.0.0.1:${address.port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await promisify(this.server.close.bind(this.server))();
  }
}
