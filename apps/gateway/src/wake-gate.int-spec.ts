import { type Server, createServer } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { NatsConnection } from '@nats-io/transport-node';
import { loadEnv } from '@libs/config';
import { GatewayRoutes, InvocationKeysBucket, connectNats } from '@libs/messaging';
import { Names } from '@libs/naming';
import { freePort, testEnv } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayEnvSchema } from './gateway.env.js';
import { GatewayModule } from './gateway.module.js';
import { GatewayService } from './gateway.service.js';

/**
 * The gateway's part of scale to zero, in this process against real NATS, with the test as the
 * deployer: it answers the wake requests (or not) and writes the route's scale state as the
 * deployer's jobs do; a stand-in entrypoint answers the calls let through.
 */
describe('gateway: calls of a sleeping version', () => {
  const base = testEnv();
  const names = new Names(base.KRE_PREFIX);
  let nc: NatsConnection;
  let app: INestApplication;
  let routes: GatewayRoutes;
  let http: string;
  let upstream: Server;
  let route: { http: string; grpc: string };
  const wakeRequests: string[] = [];
  const activity: string[] = [];
  /** Whether the test's "deployer" answers wake requests. */
  let deployerAnswers = true;

  const call = async (version: string) => {
    const response = await fetch(`${http}/shop/versions/${version}/Greet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    return {
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      body: (await response.json()) as { code?: string; message?: string; ok?: boolean },
    };
  };
  beforeAll(async () => {
    nc = await connectNats({ url: base.NATS_URL, credentials: base.NATS_CREDS, name: 'int-wake' });
    nc.subscribe(names.wakeRequestSubject(), {
      callback: (_, msg) => {
        wakeRequests.push(msg.string());
        if (deployerAnswers) msg.respond(JSON.stringify({ queued: true }));
      },
    });
    nc.subscribe(names.versionActivitySubject(), {
      callback: (_, msg) => {
        activity.push(msg.string());
      },
    });
    const keys = await InvocationKeysBucket.open(nc, names);
    await keys.put('shop', { generation: 1, requireKey: false, keys: [] });
    upstream = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true }));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    route = {
      http: `127.0.0.1:${(upstream.address() as { port: number }).port}`,
      grpc: '127.0.0.1:1',
    };
    routes = await GatewayRoutes.open(nc, names);
    for (const version of ['v1', 'v2', 'v3']) {
      await routes.addVersion('shop', version, route);
      await routes.setScale('shop', version, 'SLEEPING');
    }
    const [httpPort, grpcPort] = [await freePort(), await freePort()];
    http = `http://127.0.0.1:${httpPort}`;
    const env = loadEnv('gateway', gatewayEnvSchema, {
      ...base,
      GATEWAY_HTTP_PORT: String(httpPort),
      GATEWAY_GRPC_PORT: String(grpcPort),
      GATEWAY_WAKE_HOLD_SECONDS: '2',
      GATEWAY_WAKE_MAX_HELD: '3',
    });
    const moduleRef = await Test.createTestingModule({
      imports: [GatewayModule.forRoot(env)],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
    upstream?.close();
    await nc?.drain();
  });

  it('holds a burst of calls, asks for one wake, and answers them all once the route is AWAKE', async () => {
    const calls = Array.from({ length: 3 }, () => call('v1'));
    await expect.poll(() => wakeRequests.length).toBe(1);
    expect(JSON.parse(wakeRequests[0])).toEqual({ runtimeId: 'shop', versionName: 'v1' });
    // Held calls count as calls in flight (they keep the version awake, and tell autoscaling).
    expect(activity.map((a) => JSON.parse(a) as unknown)).toContainEqual({
      runtimeId: 'shop',
      versionName: 'v1',
      gateway: expect.stringMatching(/^gw-/) as string,
      inFlight: 1,
    });
    await routes.setScale('shop', 'v1', 'WAKING');
    await routes.setScale('shop', 'v1', 'AWAKE');
    const answers = await Promise.all(calls);
    expect(answers.map((a) => [a.status, a.body])).toEqual(Array(3).fill([200, { ok: true }]));
    expect(wakeRequests).toHaveLength(1);
    // Awake: the next call goes straight through, no wake asked.
    expect((await call('v1')).status).toBe(200);
    expect(wakeRequests).toHaveLength(1);
  });

  it('refuses a call past the most held per version with 429, and answers a held call 503 with Retry-After when its hold runs out', async () => {
    deployerAnswers = false; // no deployer: the version never wakes
    const held = Array.from({ length: 3 }, () => call('v2'));
    await expect.poll(() => app.get(GatewayService).heldCalls()).toBe(3);
    const extra = await call('v2');
    expect(extra.status).toBe(429);
    expect(extra.body.code).toBe('RESOURCE_EXHAUSTED');
    expect(extra.retryAfter).toBe('1');
    const answers = await Promise.all(held);
    for (const answer of answers) {
      expect(answer.status).toBe(503);
      expect(answer.retryAfter).toMatch(/^\d+$/);
      expect(answer.body).toEqual({
        code: 'UNAVAILABLE',
        message:
          'version "v2" of runtime "shop" is waking up and was not ready within 2000 ms: retry shortly',
      });
    }
    // One request for the burst, still unanswered when the holds ran out.
    expect(wakeRequests.filter((r) => r.includes('"v2"'))).toHaveLength(1);
    expect(app.get(GatewayService).heldCalls()).toBe(0);
  });

  it('answers a held call 503 when its version is stopped meanwhile', async () => {
    deployerAnswers = true;
    const pending = call('v3');
    await expect.poll(() => wakeRequests.filter((r) => r.includes('"v3"')).length).toBe(1);
    await routes.removeVersion('shop', 'v3');
    const answer = await pending;
    expect(answer.status).toBe(503);
    expect(answer.body.message).toBe(
      'version "v3" of runtime "shop" was stopped while it was waking up',
    );
  });
});
