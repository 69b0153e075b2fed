import { createHash } from 'node:crypto';
import {
  type IncomingHttpHeaders,
  type Server,
  createServer,
  request as httpRequest,
} from 'node:http';
import {
  type Http2Server,
  type IncomingHttpHeaders as Http2Headers,
  connect,
  createServer as createH2Server,
} from 'node:http2';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { NatsConnection } from '@nats-io/transport-node';
import { CLOCK, ManualClock } from '@libs/core';
import { loadEnv } from '@libs/config';
import {
  GatewayRoutes,
  InvocationKeysBucket,
  connectNats,
  invocationKeyUsedSchema,
  type InvocationKeyUsed,
} from '@libs/messaging';
import { Names } from '@libs/naming';
import { freePort, testEnv } from '@libs/testing';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayEnvSchema } from './gateway.env.js';
import { GatewayModule } from './gateway.module.js';

const key = (c: string) => `kre_ik_${c.repeat(40)}`;
const sha = (k: string) => createHash('sha256').update(k).digest('hex');

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: { code?: string; message?: string; seen?: IncomingHttpHeaders };
}

/**
 * The gateway in this process against real NATS: invocation keys as admin-api publishes them
 * (the KV bucket), routes as the deployer writes them, and stand-in entrypoints (HTTP and h2)
 * that echo what reached them. Its clock is a ManualClock: expiry and rates move by hand.
 */
describe('gateway: invocation keys and limits', () => {
  const base = testEnv();
  const names = new Names(base.KRE_PREFIX);
  const clock = new ManualClock(new Date('2026-06-01T00:00:00Z'));
  let nc: NatsConnection;
  let app: INestApplication;
  let keys: InvocationKeysBucket;
  let http: string;
  let grpcPort: number;
  let upstream: Server;
  let upstreamH2: Http2Server;
  /** Calls to the `slow` runtime wait here until the test lets them go. */
  const held: (() => void)[] = [];
  const reports: InvocationKeyUsed[] = [];

  const put = (
    runtimeId: string,
    requireKey: boolean,
    list: [string, string, string?][],
    generation = 1,
  ) =>
    keys.put(runtimeId, {
      generation,
      requireKey,
      keys: list.map(([id, k, expiresAt]) => ({ id, hash: sha(k), expiresAt: expiresAt ?? null })),
    });

  const call = async (path: string, headers: Record<string, string> = {}): Promise<Answer> => {
    const response = await fetch(`${http}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: '{}',
    });
    return {
      status: response.status,
      headers: Object.fromEntries(response.headers),
      body: (await response.json()) as Answer['body'],
    };
  };

  /** One gRPC call through the gateway: its grpc-status and grpc-message (trailers or headers). */
  const grpcCall = (metadata: Record<string, string>) =>
    new Promise<{ status: string; message: string; headers: Http2Headers }>((resolve, reject) => {
      const session = connect(`http://127.0.0.1:${grpcPort}`);
      session.on('error', reject);
      const stream = session.request({
        ':method': 'POST',
        ':path': '/pkg.Entrypoint/Call',
        'content-type': 'application/grpc',
        te: 'trailers',
        ...metadata,
      });
      let headers: Http2Headers = {};
      stream.on('response', (h) => (headers = h));
      stream.on('trailers', (t: Http2Headers) => (headers = { ...headers, ...t }));
      stream.on('data', () => undefined);
      stream.on('end', () => {
        session.close();
        resolve({
          status: String(headers['grpc-status']),
          message: decodeURIComponent(String(headers['grpc-message'] ?? '')),
          headers,
        });
      });
      stream.on('error', reject);
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
    });

  beforeAll(async () => {
    nc = await connectNats({
      url: base.NATS_URL,
      credentials: base.NATS_CREDS,
      name: 'int-gateway-keys',
    });
    nc.subscribe(names.invocationKeyUsedSubject(), {
      callback: (_, msg) => {
        reports.push(invocationKeyUsedSchema.parse(msg.json()));
      },
    });
    keys = await InvocationKeysBucket.open(nc, names);
    upstream = createServer((req, res) => {
      const answer = () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ seen: req.headers }));
      };
      req.resume();
      if (req.url === '/Slow') held.push(answer);
      else answer();
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamH2 = createH2Server();
    upstreamH2.on('stream', (stream) => {
      stream.resume();
      stream.on('end', () => {
        stream.respond(
          { ':status': 200, 'content-type': 'application/grpc' },
          { waitForTrailers: true },
        );
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end();
      });
    });
    await new Promise<void>((r) => upstreamH2.listen(0, '127.0.0.1', r));
    const route = {
      http: `127.0.0.1:${(upstream.address() as { port: number }).port}`,
      grpc: `127.0.0.1:${(upstreamH2.address() as { port: number }).port}`,
    };
    const routes = await GatewayRoutes.open(nc, names);
    for (const rt of ['shop', 'blog', 'open', 'noisy', 'quiet', 'unlisted', 'named']) {
      await routes.addVersion(rt, 'v1', route);
      await routes.publish(rt, 'v1', route);
    }
    // Written before the gateway starts: it loads them.
    await put('shop', true, [
      ['k-shop', key('a')],
      ['k-old', key('b'), '2026-06-01T01:00:00.000Z'],
      ['k-doomed', key('d')],
    ]);
    await put('blog', true, [['k-blog', key('c')]]);
    await put('open', false, []);
    await put('named', true, [['k-named', key('n')]]);

    const [httpPort, grpc] = [await freePort(), await freePort()];
    grpcPort = grpc;
    http = `http://127.0.0.1:${httpPort}`;
    const env = loadEnv('gateway', gatewayEnvSchema, {
      ...base,
      GATEWAY_HTTP_PORT: String(httpPort),
      GATEWAY_GRPC_PORT: String(grpc),
      GATEWAY_RUNTIME_RATE: '10',
      GATEWAY_RUNTIME_BURST: '20',
      GATEWAY_RUNTIME_CONCURRENCY: '5',
      GATEWAY_KEY_RATE: '10',
      GATEWAY_KEY_BURST: '15',
      GATEWAY_KEY_CONCURRENCY: '5',
      GATEWAY_RUNTIME_HOSTS: '*.kre.test,entrypoint.kre-*.svc',
    });
    const moduleRef = await Test.createTestingModule({ imports: [GatewayModule.forRoot(env)] })
      .overrideProvider(CLOCK)
      .useValue(clock)
      .compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    for (const release of held.splice(0)) release();
    await app?.close();
    upstream?.close();
    upstreamH2?.close();
    await nc?.drain();
  });

  it('refuses a call without a key, with a wrong one, with another runtime’s: 401 with the reason', async () => {
    const missing = await call('/shop/Greet');
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="kre"');
    expect(missing.body).toEqual({
      code: 'UNAUTHENTICATED',
      message:
        'runtime "shop" needs an invocation key: send "Authorization: Bearer <key>" or "x-api-key: <key>" (a runtime ADMIN creates one with createInvocationKey)',
    });
    const invalid = {
      code: 'UNAUTHENTICATED',
      message:
        'the invocation key is not valid for runtime "shop" (unknown, revoked, or another runtime\'s)',
    };
    const wrongKeys: Record<string, string>[] = [
      { 'x-api-key': key('z') },
      { authorization: `Bearer ${key('z')}` },
      { authorization: 'Bearer nonsense' },
      { 'x-api-key': key('c') }, // blog's key
    ];
    for (const headers of wrongKeys) {
      const answer = await call('/shop/Greet', headers);
      expect([answer.status, answer.body]).toEqual([401, invalid]);
    }
    // The published and the version path alike: no version is reachable without a key.
    expect((await call('/shop/versions/v1/Greet')).status).toBe(401);
    // blog's own key works there.
    expect((await call('/blog/Greet', { 'x-api-key': key('c') })).status).toBe(200);
  });

  it('lets the runtime’s key through (Bearer or x-api-key) and never forwards it upstream', async () => {
    const ownKey: Record<string, string>[] = [
      { authorization: `Bearer ${key('a')}` },
      { 'x-api-key': key('a') },
    ];
    for (const headers of ownKey) {
      const answer = await call('/shop/Greet', { ...headers, 'x-trace': 'kept' });
      expect(answer.status).toBe(200);
      expect(answer.headers['kre-version']).toBe('v1');
      expect(answer.body.seen?.['x-trace']).toBe('kept');
      expect(answer.body.seen?.authorization).toBeUndefined();
      expect(answer.body.seen?.['x-api-key']).toBeUndefined();
    }
    expect((await call('/shop/versions/v1/Greet', { 'x-api-key': key('a') })).status).toBe(200);
  });

  it('refuses an expired key once its time has come', async () => {
    expect((await call('/shop/Greet', { 'x-api-key': key('b') })).status).toBe(200);
    clock.set('2026-06-01T01:00:00.000Z');
    const expired = await call('/shop/Greet', { 'x-api-key': key('b') });
    expect(expired).toMatchObject({
      status: 401,
      body: {
        code: 'UNAUTHENTICATED',
        message:
          'the invocation key expired at 2026-06-01T01:00:00.000Z: ask a runtime ADMIN for a new one',
      },
    });
    expect((await call('/shop/Greet', { 'x-api-key': key('a') })).status).toBe(200);
  });

  it('stops taking a revoked key as soon as the bucket says so', async () => {
    expect((await call('/shop/Greet', { 'x-api-key': key('d') })).status).toBe(200);
    await put(
      'shop',
      true,
      [
        ['k-shop', key('a')],
        ['k-old', key('b'), '2026-06-01T01:00:00.000Z'],
      ],
      2,
    );
    await expect
      .poll(async () => (await call('/shop/Greet', { 'x-api-key': key('d') })).status)
      .toBe(401);
    expect((await call('/shop/Greet', { 'x-api-key': key('a') })).status).toBe(200);
  });

  it('lets anyone call a runtime with requireInvocationKey false; a runtime with no entry is closed', async () => {
    expect((await call('/open/Greet')).status).toBe(200);
    expect((await call('/open/versions/v1/Greet')).status).toBe(200);
    const closed = await call('/unlisted/Greet');
    expect(closed).toMatchObject({
      status: 401,
      body: {
        code: 'UNAUTHENTICATED',
        message:
          'runtime "unlisted" accepts no calls here yet: its invocation keys have not reached this gateway',
      },
    });
    // Unknown runtimes still get 404.
    expect((await call('/ghost/Greet')).status).toBe(404);
  });

  it('checks keys on gRPC: UNAUTHENTICATED without one, the call goes through with one', async () => {
    const missing = await grpcCall({ 'kre-runtime': 'shop' });
    expect(missing.status).toBe('16');
    expect(missing.message).toMatch(/runtime "shop" needs an invocation key/);
    expect((await grpcCall({ 'kre-runtime': 'shop', 'x-api-key': key('c') })).status).toBe('16');
    expect((await grpcCall({ 'kre-runtime': 'shop', 'x-api-key': key('a') })).status).toBe('0');
    expect(
      (await grpcCall({ 'kre-runtime': 'shop', authorization: `Bearer ${key('a')}` })).status,
    ).toBe('0');
    expect((await grpcCall({ 'kre-runtime': 'open' })).status).toBe('0');
  });

  it('reports a key’s use to admin-api, at most once a minute per key', async () => {
    const count = () => reports.filter((r) => r.keyId === 'k-blog').length;
    clock.advance(61_000);
    const before = count();
    for (let i = 0; i < 5; i++) await call('/blog/Greet', { 'x-api-key': key('c') });
    await expect.poll(count).toBe(before + 1);
    expect(reports.at(-1)).toEqual({
      runtimeId: 'blog',
      keyId: 'k-blog',
      at: clock.now().toISOString(),
    });
    // A minute later the next use is reported; being later on the same connection, it also
    // proves that the four calls in between sent nothing.
    clock.advance(60_000);
    await call('/blog/Greet', { 'x-api-key': key('c') });
    await expect.poll(() => reports.at(-1)?.at).toBe(clock.now().toISOString());
    expect(count()).toBe(before + 2);
  });

  it("noisy neighbour: runtime A flooded past its limits gets 429s while runtime B's calls all succeed", async () => {
    await put('noisy', false, []);
    await put('quiet', false, []);
    await expect.poll(async () => (await call('/quiet/Greet')).status).toBe(200);
    // A holds its concurrency with calls that do not end, then floods (the clock stands
    // still, so A's bucket does not refill).
    const slow = Array.from({ length: 5 }, () => call('/noisy/Slow'));
    await expect.poll(() => held.length).toBe(5);
    const flooding = Promise.all(Array.from({ length: 60 }, () => call('/noisy/Greet')));
    // Meanwhile B, within its own limits (one call at a time), is untouched by A's flood.
    const quiet: Answer[] = [];
    for (let i = 0; i < 10; i++) quiet.push(await call('/quiet/Greet'));
    const flood = await flooding;
    expect(quiet.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(flood.every((a) => a.status === 429)).toBe(true);
    expect(flood[0].headers['retry-after']).toBe('1');
    expect(flood[0].body).toEqual({
      code: 'RESOURCE_EXHAUSTED',
      message:
        'runtime "noisy" has 5 calls in flight, the most allowed at once: retry when one has ended',
    });
    const grpc = await grpcCall({ 'kre-runtime': 'noisy' });
    expect(grpc.status).toBe('8');
    expect(grpc.headers['retry-after']).toBe('1');
    for (const release of held.splice(0)) release();
    expect((await Promise.all(slow)).map((a) => a.status)).toEqual(Array(5).fill(200));
    // Slots free again; then the rate: A's bucket (burst 20) was spent by its 5 + 1 calls ...
    let ok = 0;
    let limited: Answer | undefined;
    for (let i = 0; i < 30 && !limited; i++) {
      const answer = await call('/noisy/Greet');
      if (answer.status === 200) ok++;
      else limited = answer;
    }
    expect(ok).toBe(20 - 5);
    expect(limited).toMatchObject({
      status: 429,
      headers: { 'retry-after': '1' },
      body: {
        message: 'runtime "noisy" is over its rate limit of 10 calls per second: retry later',
      },
    });
    expect((await call('/quiet/Greet')).status).toBe(200);
    clock.advance(1_000); // ten tokens back
    expect((await call('/noisy/Greet')).status).toBe(200);
  });

  it('limits one key inside its runtime: its flood leaves the runtime’s other keys working', async () => {
    await put(
      'blog',
      true,
      [
        ['k-blog', key('c')],
        ['k-blog-2', key('e')],
      ],
      2,
    );
    await expect
      .poll(async () => (await call('/blog/Greet', { 'x-api-key': key('e') })).status)
      .toBe(200);
    clock.advance(10_000); // full buckets
    const statuses: number[] = [];
    for (let i = 0; i < 17; i++)
      statuses.push((await call('/blog/Greet', { 'x-api-key': key('c') })).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(15); // the key's burst
    expect(statuses.at(-1)).toBe(429);
    expect((await call('/blog/Greet', { 'x-api-key': key('e') })).status).toBe(200);
  });

  it("routes a call to a runtime's own address (Host, :authority) with the entrypoint's paths, keys still checked", async () => {
    const byName = (path: string, host: string, headers: Record<string, string> = {}) =>
      new Promise<Answer>((resolve, reject) => {
        const req = httpRequest(
          `${http}${path}`,
          { method: 'POST', headers: { host, 'content-type': 'application/json', ...headers } },
          (res) => {
            let body = '';
            res.on('data', (chunk: Buffer) => (body += chunk.toString()));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                headers: res.headers,
                body: JSON.parse(body) as Answer['body'],
              }),
            );
          },
        );
        req.on('error', reject);
        req.end('{}');
      });
    const published = await byName('/Greet', 'named.kre.test:443', { 'x-api-key': key('n') });
    expect(published.status).toBe(200);
    expect(published.headers['kre-version']).toBe('v1');
    expect(
      (await byName('/versions/v1/Greet', 'named.kre.test', { 'x-api-key': key('n') })).status,
    ).toBe(200);
    expect((await byName('/Greet', 'named.kre.test')).status).toBe(401);
    // Another runtime's key is no key for this one; the paths are the entrypoint's only.
    expect((await byName('/Greet', 'named.kre.test', { 'x-api-key': key('a') })).status).toBe(401);
    expect((await byName('/named/Greet', 'named.kre.test')).body.code).toBe('NOT_FOUND');
    expect((await byName('/Greet', 'nowhere.kre.test')).body.code).toBe('NOT_FOUND');
    expect(
      (await byName('/Greet', 'entrypoint.kre-named.svc:9080', { 'x-api-key': key('n') })).status,
    ).toBe(200);
    // Other hosts keep routing by path.
    expect((await byName('/open/Greet', 'other.example.com')).status).toBe(200);

    expect((await grpcCall({ ':authority': 'open.kre.test' })).status).toBe('0');
    expect((await grpcCall({ ':authority': 'named.kre.test' })).status).toBe('16');
    expect((await grpcCall({ ':authority': 'named.kre.test', 'x-api-key': key('n') })).status).toBe(
      '0',
    );
    expect((await grpcCall({ ':authority': '127.0.0.1' })).status).toBe('3'); // INVALID_ARGUMENT
  });
  it('counts calls by protocol, runtime, version and code for Prometheus, naming only runtimes it knows', async () => {
    const registry = app.get(Registry);
    const count = async (labels: Record<string, string>) =>
      (await registry.getSingleMetric('kre_gateway_requests_total')?.get())?.values
        .filter((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))
        .reduce((sum, v) => sum + v.value, 0) ?? 0;
    const ok = { protocol: 'http', runtime: 'open', version: 'v1', code: '200' };
    const [okBefore, unknownBefore] = [await count(ok), await count({ runtime: '', code: '404' })];
    for (let i = 0; i < 3; i++) expect((await call('/open/Greet')).status).toBe(200);
    expect((await call('/made-up-runtime/Greet')).status).toBe(404);
    expect((await grpcCall({ 'kre-runtime': 'shop' })).status).toBe('16');
    await expect.poll(() => count(ok)).toBe(okBefore + 3);
    await expect.poll(() => count({ runtime: '', code: '404' })).toBe(unknownBefore + 1);
    await expect
      .poll(() => count({ protocol: 'grpc', runtime: 'shop', version: '', code: '16' }))
      .toBeGreaterThanOrEqual(1);
    const text = await registry.metrics();
    expect(text).not.toContain('made-up-runtime');
    expect(text).toMatch(
      /kre_gateway_request_duration_seconds_count\{protocol="http",runtime="open",version="v1",code="200"\} \d+/,
    );
    expect(text).toContain('process_cpu_seconds_total'); // the process's own series too
  });
});
