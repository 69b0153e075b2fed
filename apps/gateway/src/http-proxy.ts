import { closeWithin, listenOn } from '@libs/observability';
import {
  Agent,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
  createServer,
  request,
} from 'node:http';
import { RpcError } from '@libs/messaging';
import { type Admitted, type GatewayAdmission, GatewayRefusal, carriesKey } from './admission.js';
import { type CallMeter, GatewayMetrics } from './gateway-metrics.js';
import { endCallSpan, startCallSpan } from './call-span.js';
import type { Target } from './route-table.js';
import { type RuntimeHostPatterns, runtimeOfHost } from './runtime-host.js';
import { type ScaleToZero, isAsleep } from './wake-gate.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'host',
]);
const SEGMENT = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const RPC = /^[A-Za-z_][A-Za-z0-9_]*$/;
const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/**
 * HTTP face of the gateway: `POST /<runtimeId>/<rpc>` to the published version and
 * `POST /<runtimeId>/versions/<version>/<rpc>` to a started one, proxied (streamed, keep-alive)
 * to that version's entrypoint, once `GatewayAdmission` lets the call through; at a runtime's
 * own address (runtime-host.ts), `POST /<rpc>` or `POST /versions/<version>/<rpc>`. No route: 404
 * with `{code: 'NOT_FOUND', message}`; no valid key: 401; over a limit: 429 with Retry-After.
 */
export class GatewayHttpProxy {
  private readonly server: Server;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64 });

  constructor(
    private readonly admission: GatewayAdmission,
    private readonly runtimeHosts: RuntimeHostPatterns = [],
    private readonly metrics: GatewayMetrics = new GatewayMetrics(),
    private readonly scaleToZero?: ScaleToZero,
  ) {
    this.server = createServer((req, res) => {
      const meter = this.metrics.start('http');
      res.on('close', () => {
        meter.code = String(res.statusCode);
        meter.end();
      });
      this.handle(req, res, meter);
    });
    this.server.keepAliveTimeout = 65_000;
  }

  /** The data plane's error answer (`RpcError`: the same codes and body as the entrypoint's). */
  private fail(res: ServerResponse, error: RpcError | GatewayRefusal): void {
    const body = JSON.stringify(error);
    res.writeHead(error.httpStatus, {
      ...(error instanceof GatewayRefusal ? error.headers : {}),
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  }

  private handle(req: IncomingMessage, res: ServerResponse, meter: CallMeter): void {
    const [path, query] = (req.url ?? '/').split('?', 2);
    let parts: string[];
    try {
      parts = path.split('/').slice(1).map(decodeURIComponent);
    } catch {
      parts = []; // malformed percent-encoding: no route
    }
    let runtimeId: string;
    let version: string | undefined;
    let rpc: string;
    const named = runtimeOfHost(req.headers.host, this.runtimeHosts);
    if (named !== undefined) {
      // The runtime's own address: the entrypoint's paths.
      runtimeId = named;
      if (parts.length === 1) [rpc] = parts;
      else if (parts.length === 3 && parts[0] === 'versions') [, version, rpc] = parts;
      else {
        req.resume();
        this.fail(
          res,
          new RpcError('NOT_FOUND', 'use POST /<rpc> or POST /versions/<version>/<rpc>'),
        );
        return;
      }
    } else if (parts.length === 2) [runtimeId, rpc] = parts;
    else if (parts.length === 4 && parts[1] === 'versions') [runtimeId, , version, rpc] = parts;
    else {
      req.resume();
      this.fail(
        res,
        new RpcError(
          'NOT_FOUND',
          'use POST /<runtimeId>/<rpc> or POST /<runtimeId>/versions/<version>/<rpc>',
        ),
      );
      return;
    }
    if (
      !SEGMENT.test(runtimeId) ||
      (version !== undefined && !SEGMENT.test(version)) ||
      !RPC.test(rpc)
    ) {
      req.resume();
      this.fail(res, new RpcError('NOT_FOUND', `no route for ${path}`));
      return;
    }
    let admitted: Admitted;
    try {
      admitted = this.admission.admit(
        runtimeId,
        version,
        first(req.headers.authorization),
        first(req.headers['x-api-key']),
      );
    } catch (error) {
      req.resume();
      // Refused past the route or key lookup: a runtime this gateway knows.
      if (error instanceof GatewayRefusal && error.code !== 'NOT_FOUND') meter.runtime = runtimeId;
      if (error instanceof GatewayRefusal) this.fail(res, error);
      else throw error;
      return;
    }
    const { target, permit } = admitted;
    meter.runtime = runtimeId;
    meter.version = target.version;
    res.on('close', () => permit.release());
    const scale = this.scaleToZero;
    if (scale) {
      const ended = scale.activity.begin(runtimeId, target.version, scale.clock.now().getTime());
      res.on('close', () => ended(scale.clock.now().getTime()));
      if (isAsleep(target.scale)) {
        // Held until the version is awake (or the hold times out: 503 with Retry-After).
        const gone = new AbortController();
        res.on('close', () => gone.abort());
        scale.gate.hold(runtimeId, target.version, undefined, gone.signal).then(
          () => {
            if (gone.signal.aborted) return;
            try {
              this.forward(req, res, this.admission.reroute(runtimeId, version), rpc, query);
            } catch (error) {
              req.resume();
              if (error instanceof GatewayRefusal) this.fail(res, error);
              else throw error;
            }
          },
          (error: unknown) => {
            req.resume();
            if (error instanceof GatewayRefusal) this.fail(res, error);
            else res.destroy(error as Error);
          },
        );
        return;
      }
    }
    this.forward(req, res, target, rpc, query);
  }

  /** Streams the call to the version's entrypoint and its answer back. */
  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    target: Target,
    rpc: string,
    query: string | undefined,
  ): void {
    const { runtimeId } = target;
    const [host, port] = splitHostPort(target.http);
    const headers: OutgoingHttpHeaders = {};
    for (const [key, value] of Object.entries(req.headers))
      if (!HOP_BY_HOP.has(key) && !carriesKey(key, value)) headers[key] = value;
    headers.host = target.http;
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
    const span = startCallSpan('http', req.headers, runtimeId, target.version, rpc);
    if (span.headers) Object.assign(headers, span.headers);
    res.on('close', () => endCallSpan(span, 'http', String(res.statusCode)));
    const upstream = request(
      {
        host,
        port,
        method: req.method,
        path: `/${rpc}${query ? `?${query}` : ''}`,
        headers,
        agent: this.agent,
      },
      (answer) => {
        const out: OutgoingHttpHeaders = { 'kre-version': target.version };
        for (const [key, value] of Object.entries(answer.headers))
          if (!HOP_BY_HOP.has(key)) out[key] = value;
        res.writeHead(answer.statusCode ?? 502, out);
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      if (!res.headersSent)
        this.fail(
          res,
          new RpcError(
            'UNAVAILABLE',
            `the entrypoint of ${runtimeId}/${target.version} does not answer: ${error.message}`,
          ),
        );
      else res.destroy(error);
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  listen(host: string, port: number): Promise<number> {
    return listenOn(this.server, 'HTTP', host, port);
  }

  get isListening(): boolean {
    return this.server.listening;
  }

  async stop(graceMs: number): Promise<void> {
    await closeWithin(this.server, graceMs);
    this.agent.destroy();
  }
}

/** `host:port` → [host, port]. */
export function splitHostPort(hostPort: string): [string, number] {
  const i = hostPort.lastIndexOf(':');
  return [hostPort.slice(0, i), Number(hostPort.slice(i + 1))];
}
