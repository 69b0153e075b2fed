import type { NatsConnection } from '@nats-io/transport-node';
import { GatewayRoutes, connectNats, openGatewayRoutes } from '@libs/messaging';
import { Names } from '@libs/naming';
import { testEnv } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NoRouteError, RouteTable } from './route-table.js';

describe(RouteTable.name, () => {
  const env = testEnv();
  const names = new Names(env.KRE_PREFIX);
  let nc: NatsConnection;
  let routes: GatewayRoutes;
  const sut = new RouteTable();
  const v1 = { http: '127.0.0.1:1001', grpc: '127.0.0.1:2001' };
  const v2 = { http: '127.0.0.1:1002', grpc: '127.0.0.1:2002' };

  beforeAll(async () => {
    nc = await connectNats({ url: env.NATS_URL, credentials: env.NATS_CREDS, name: 'int-routes' });
    routes = await GatewayRoutes.open(nc, names);
    await routes.addVersion('shop', 'v1', v1); // written before the gateway starts
  });
  afterAll(async () => {
    sut.stop();
    await nc.drain();
  });

  it('loads what is there, then follows publish, new versions, unpublish and removal live', async () => {
    await sut.start(await openGatewayRoutes(nc, names));
    expect(sut.ready).toBe(true);
    expect(sut.resolve('shop', 'v1')).toEqual({ runtimeId: 'shop', version: 'v1', ...v1 });
    expect(() => sut.resolve('shop')).toThrow(/runtime "shop" has no published version/);
    expect(() => sut.resolve('ghost')).toThrow(NoRouteError);

    await routes.publish('shop', 'v1', v1);
    await expect
      .poll(() => tryResolve('shop'))
      .toEqual({ runtimeId: 'shop', version: 'v1', ...v1 });

    await routes.addVersion('shop', 'v2', v2);
    await routes.publish('shop', 'v2', v2);
    await expect.poll(() => tryResolve('shop')?.version).toBe('v2');
    expect(sut.resolve('shop', 'v1').http).toBe(v1.http); // still reachable by version

    await routes.unpublish('shop', 'v2');
    await expect.poll(() => tryResolve('shop')).toBeUndefined();
    await routes.removeVersion('shop', 'v1');
    await expect.poll(() => tryResolve('shop', 'v1')).toBeUndefined();
    expect(() => sut.resolve('shop', 'v1')).toThrow(
      'version "v1" of runtime "shop" is not started',
    );
  });

  it('ignores records that do not match the format', async () => {
    const kv = await openGatewayRoutes(nc, names);
    await kv.put('broken', JSON.stringify({ version: 'v1', http: 'no-port' }));
    await kv.put('alsobroken', 'not json');
    await routes.addVersion('later', 'v9', v2);
    await expect.poll(() => tryResolve('later', 'v9')?.grpc).toBe(v2.grpc);
    expect(tryResolve('broken')).toBeUndefined();
    expect(tryResolve('alsobroken')).toBeUndefined();
  });

  function tryResolve(runtimeId: string, version?: string) {
    try {
      return sut.resolve(runtimeId, version);
    } catch {
      return undefined;
    }
  }
});
