import { closeWithin, listenOn } from '@libs/observability';
import {
  type ClientHttp2Session,
  type Http2Server,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
  connect,
  constants,
  createServer,
} from 'node:http2';
import { Logger } from '@nestjs/common';
import { RpcError } from '@libs/messaging';
import { type Admitted, type GatewayAdmission, GatewayRefusal, carriesKey } from './admission.js';
import { type CallMeter, GatewayMetrics } from './gateway-metrics.js';
import { endCallSpan, startCallSpan } from './call-span.js';
import type { Target } from './route-table.js';
import { type RuntimeHostPatterns, runtimeOfHost } from './runtime-host.js';
import { type ScaleToZero, grpcTimeoutMs, isAsleep } from './wake-gate.js';

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR } = constants;
const SEGMENT = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** grpc-message: percent-encode '%' and bytes outside printable ASCII (the gRPC spec). */
const grpcMessage = (text: string) =>
  text.replace(/[^\x20-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c));

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/**
 * gRPC face of the gateway: an HTTP/2 (h2c) proxy routed by the metadata `kre-runtime` (and
 * optional `kre-version`), or by a runtime's own `:authority` (runtime-host.ts), forwarding frames, headers and trailers to the
 * version's entrypoint unchanged. It never decodes messages, so two runtimes may both serve
 * `<package>.Entrypoint` with different protos.
 */
export class GatewayGrpcProxy {
  private readonly logger = new Logger(GatewayGrpcProxy.name);
  private readonly server: Http2Server;
  private readonly sessions = new Map<string, ClientHttp2Session>();
  /** Each call's meter; its code is the gRPC status the call ends with (a number). */
  private readonly meters = new WeakMap<ServerHttp2Stream, CallMeter>();

  constructor(
    private readonly admission: GatewayAdmission,
    private readonly runtimeHosts: RuntimeHostPatterns = [],
    private readonly metrics: GatewayMetrics = new GatewayMetrics(),
    private readonly scaleToZero?: ScaleToZero,
  ) {
    this.server = createServer();
    this.server.on('stream', (stream, headers) => {
      const meter = this.metrics.start('grpc');
      this.meters.set(stream, meter);
      stream.on('close', () => meter.end());
      this.handle(stream, headers, meter);
    });
    this.server.on('sessionError', (error) =>
      this.logger.debug(`client session: ${error.message}`),
    );
  }

  /** A trailers-only gRPC answer with the data plane's error (`RpcError`) or the gateway's. */
  private reject(stream: ServerHttp2Stream, error: RpcError | GatewayRefusal): void {
    if (stream.destroyed || stream.headersSent) return;
    const meter = this.meters.get(stream);
    if (meter) meter.code = String(error.grpcStatus);
    stream.respond(
      {
        ...(error instanceof GatewayRefusal ? error.headers : {}),
        ':status': 200,
        'content-type': 'application/grpc',
        'grpc-status': String(error.grpcStatus),
        'grpc-message': grpcMessage(error.message),
      },
      { endStream: true },
    );
  }

  private session(target: string): ClientHttp2Session {
    let session = this.sessions.get(target);
    if (session && !session.closed && !session.destroyed) return session;
    session = connect(`http://${target}`);
    const drop = () => {
      if (this.sessions.get(target) === session) this.sessions.delete(target);
    };
    session.on('close', drop);
    session.on('error', drop);
    session.on('goaway', drop);
    this.sessions.set(target, session);
    return session;
  }

  private handle(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, meter: CallMeter): void {
    stream.on('error', () => undefined);
    // The metadata names the runtime; else the runtime's own address (runtime-host.ts) does.
    const runtimeId =
      first(headers['kre-runtime']) ??
      runtimeOfHost(first(headers[':authority']), this.runtimeHosts);
    const version = first(headers['kre-version']);
    if (!runtimeId) {
      stream.resume();
      return this.reject(
        stream,
        new RpcError(
          'INVALID_ARGUMENT',
          'set the metadata "kre-runtime" to the runtime id (and optionally "kre-version"), or call the runtime at its own address',
        ),
      );
    }
    if (!SEGMENT.test(runtimeId) || (version !== undefined && !SEGMENT.test(version))) {
      stream.resume();
      return this.reject(
        stream,
        new RpcError('NOT_FOUND', `runtime "${runtimeId}" is not served here`),
      );
    }
    let admitted: Admitted;
    try {
      admitted = this.admission.admit(
        runtimeId,
        version,
        first(headers.authorization),
        first(headers['x-api-key']),
      );
    } catch (error) {
      stream.resume();
      // Refused past the route or key lookup: a runtime this gateway knows.
      if (error instanceof GatewayRefusal && error.code !== 'NOT_FOUND') meter.runtime = runtimeId;
      if (error instanceof GatewayRefusal) return this.reject(stream, error);
      throw error;
    }
    const { target, permit } = admitted;
    meter.runtime = runtimeId;
    meter.version = target.version;
    stream.on('close', () => permit.release());
    const scale = this.scaleToZero;
    if (scale) {
      const now = scale.clock.now().getTime();
      const ended = scale.activity.begin(runtimeId, target.version, now);
      stream.on('close', () => ended(scale.clock.now().getTime()));
      if (isAsleep(target.scale)) {
        // Held until the version is awake, or answered UNAVAILABLE before the call's deadline.
        const timeoutMs = grpcTimeoutMs(first(headers['grpc-timeout']));
        const gone = new AbortController();
        stream.on('close', () => gone.abort());
        scale.gate
          .hold(
            runtimeId,
            target.version,
            timeoutMs === undefined ? undefined : now + timeoutMs,
            gone.signal,
          )
          .then(
            () => {
              if (gone.signal.aborted) return;
              let awake: Target;
              try {
                awake = this.admission.reroute(runtimeId, version);
              } catch (error) {
                stream.resume();
                if (error instanceof GatewayRefusal) return this.reject(stream, error);
                throw error;
              }
              // The entrypoint gets what is left of the call's deadline, not all of it again.
              const left =
                timeoutMs === undefined
                  ? undefined
                  : Math.max(1, Math.floor(now + timeoutMs - scale.clock.now().getTime()));
              this.forward(
                stream,
                left === undefined ? headers : { ...headers, 'grpc-timeout': `${left}m` },
                awake,
                meter,
              );
            },
            (error: unknown) => {
              stream.resume();
              if (error instanceof GatewayRefusal) this.reject(stream, error);
              else if (!stream.destroyed) stream.close(NGHTTP2_INTERNAL_ERROR);
            },
          );
        return;
      }
    }
    this.forward(stream, headers, target, meter);
  }

  /** Streams the call to the version's entrypoint, frames, headers and trailers unchanged. */
  private forward(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    target: Target,
    meter: CallMeter,
  ): void {
    const { runtimeId } = target;
    const forward: OutgoingHttpHeaders = {};
    for (const [key, value] of Object.entries(headers))
      if ((!key.startsWith(':') || key === ':method' || key === ':path') && !carriesKey(key, value))
        forward[key] = value;
    forward[':authority'] = target.grpc;
    forward[':scheme'] = 'http';
    const span = startCallSpan(
      'grpc',
      headers,
      runtimeId,
      target.version,
      first(headers[':path']) ?? '',
    );
    if (span.headers) Object.assign(forward, span.headers);
    stream.on('close', () => endCallSpan(span, 'grpc', meter.code));

    let upstream;
    try {
      upstream = this.session(target.grpc).request(forward, { endStream: false });
    } catch (error) {
      stream.resume();
      return this.reject(
        stream,
        new RpcError(
          'UNAVAILABLE',
          `the entrypoint of ${runtimeId}/${target.version} does not answer: ${error instanceof Error ? error.message : String(error)}`,
        ),
      );
    }
    let trailers: IncomingHttpHeaders | undefined;
    upstream.on('response', (responseHeaders, flags) => {
      const out: OutgoingHttpHeaders = {};
      for (const [key, value] of Object.entries(responseHeaders))
        if (!key.startsWith(':') || key === ':status') out[key] = value;
      out['kre-version'] = target.version;
      const endStream = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      if (endStream) meter.code = String(first(responseHeaders['grpc-status']) ?? '');
      if (stream.destroyed) return;
      stream.respond(out, endStream ? { endStream: true } : { waitForTrailers: true });
      if (!endStream) upstream.pipe(stream);
    });
    upstream.on('trailers', (t: IncomingHttpHeaders) => {
      trailers = t;
    });
    stream.on('wantTrailers', () => {
      const out: OutgoingHttpHeaders = {};
      for (const [key, value] of Object.entries(trailers ?? {}))
        if (!key.startsWith(':')) out[key] = value;
      if (!out['grpc-status']) {
        const ended = new RpcError('UNAVAILABLE', 'the entrypoint ended the call without a status');
        out['grpc-status'] = String(ended.grpcStatus);
        out['grpc-message'] = grpcMessage(ended.message);
      }
      meter.code = String(first(out['grpc-status'] as string | string[] | undefined) ?? '');
      stream.sendTrailers(out);
    });
    upstream.on('error', (error: Error) => {
      if (!stream.headersSent)
        this.reject(
          stream,
          new RpcError(
            'UNAVAILABLE',
            `the entrypoint of ${runtimeId}/${target.version} does not answer: ${error.message}`,
          ),
        );
      else if (!stream.destroyed) stream.close(NGHTTP2_INTERNAL_ERROR);
    });
    stream.on('close', () => {
      if (!upstream.closed) upstream.close(NGHTTP2_CANCEL);
    });
    stream.pipe(upstream);
  }

  listen(host: string, port: number): Promise<number> {
    return listenOn(this.server, 'gRPC', host, port);
  }

  get isListening(): boolean {
    return this.server.listening;
  }

  async stop(graceMs: number): Promise<void> {
    await closeWithin(this.server, graceMs);
    for (const session of this.sessions.values()) session.close();
    this.sessions.clear();
  }
}
