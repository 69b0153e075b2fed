import { closeWithin, createHttpServer, listenOn } from '@libs/observability/workload';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { KreHeader } from '@libs/messaging/workload';
import type { RpcCalls } from './rpc-calls.service.js';
import { RpcError } from '@libs/messaging/workload';

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The entrypoint's HTTP/JSON face: `POST /<rpc>` with the request message in proto3 JSON,
 * answered with the response message in proto3 JSON; errors as `{code, message, requestId}`
 * with 400 / 404 / 413 / 500 / 503 / 504. `GET /` lists the rpcs.
 */
export class EntrypointHttpServer {
  private readonly server: Server;

  constructor(
    private readonly calls: RpcCalls,
    private readonly maxRequestBytes: number,
  ) {
    this.server = createHttpServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 65_000;
  }

  private send(res: ServerResponse, statusCode: number, body: unknown, requestId?: string): void {
    const text = JSON.stringify(body);
    res.writeHead(statusCode, {
      'content-type': JSON_TYPE,
      'content-length': Buffer.byteLength(text),
      ...(requestId ? { [KreHeader.requestId]: requestId } : {}),
    });
    res.end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/') {
      this.send(res, 200, {
        service: this.calls.proto.serviceName,
        rpcs: [...this.calls.proto.rpcs.values()].map((r) => ({
          name: r.name,
          path: `/${r.name}`,
          streaming: r.streaming,
        })),
      });
      return;
    }
    const requestId = crypto.randomUUID();
    try {
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST');
        this.send(res, 405, { code: 'METHOD_NOT_ALLOWED', message: `use POST /<rpc>` });
        req.resume();
        return;
      }
      let rpc: string;
      try {
        rpc = decodeURIComponent(path.slice(1));
      } catch {
        throw new RpcError('NOT_FOUND', `no rpc at ${path}`, requestId);
      }
      this.calls.rpc(rpc);
      const raw = await this.readBody(req, requestId);
      let body: unknown;
      try {
        body = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
      } catch (error) {
        throw new RpcError(
          'INVALID_ARGUMENT',
          `the body is not JSON: ${error instanceof Error ? error.message : String(error)}`,
          requestId,
        );
      }
      const traceparent = req.headers.traceparent;
      const tracestate = req.headers.tracestate;
      const response = await this.calls.callJson(rpc, body, {
        requestId,
        traceparent: typeof traceparent === 'string' ? traceparent : undefined,
        tracestate: typeof tracestate === 'string' ? tracestate : undefined,
      });
      this.send(res, 200, response, requestId);
    } catch (error) {
      const rpcError =
        error instanceof RpcError
          ? error
          : new RpcError('INTERNAL', error instanceof Error ? error.message : String(error));
      this.send(
        res,
        rpcError.httpStatus,
        { ...rpcError.toJSON(), requestId: rpcError.requestId ?? requestId },
        requestId,
      );
    }
  }

  private readBody(req: IncomingMessage, requestId: string): Promise<Buffer> {
    const limit = this.maxRequestBytes;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.resume();
      return Promise.reject(
        new RpcError(
          'RESOURCE_EXHAUSTED',
          `the request body is ${declared} bytes, above the limit of ${limit} (KRT_MAX_REQUEST_BYTES)`,
          requestId,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) {
          reject(
            new RpcError(
              'RESOURCE_EXHAUSTED',
              `the request body is above the limit of ${limit} bytes (KRT_MAX_REQUEST_BYTES)`,
              requestId,
            ),
          );
          req.resume();
          chunks.length = 0;
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });
  }

  /** Listens on `host:port`; resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    return listenOn(this.server, 'HTTP', host, port);
  }

  get isListening(): boolean {
    return this.server.listening;
  }

  /** Stops taking connections and waits (at most `graceMs`) for requests in progress. */
  async stop(graceMs: number): Promise<void> {
    await closeWithin(this.server, graceMs);
  }
}
