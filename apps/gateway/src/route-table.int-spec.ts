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

  it("takes an entrypoint's replicas in turn, by version and at the published address, as autoscaling changes them", async () => {
    const r1 = { http: '127.0.0.1:1101', grpc: '127.0.0.1:2101' };
    const r2 = { http: '127.0.0.1:1102', grpc: '127.0.0.1:2102' };
    const r3 = { http: '127.0.0.1:1103', grpc: '127.0.0.1:2103' };
    await routes.addVersion('busy', 'v1', r1);
    await routes.publish('busy', 'v1', r1);
    await routes.setScale('busy', 'v1', 'AWAKE');
    await expect.poll(() => tryResolve('busy')?.http).toBe(r1.http);
    // Scaled out to three: each call goes to the next replica, whichever address it came by.
    await routes.setEndpoints('busy', 'v1', { ...r1, replicas: [r1, r2, r3] });
    await expect.poll(() => tryResolve('busy', 'v1')?.replicas?.length).toBe(3);
    const turn = () =>
      [0, 1, 2, 3, 4, 5].map((i) => sut.resolve('busy', i % 2 ? 'v1' : undefined).grpc);
    const seen = turn();
    expect(new Set(seen)).toEqual(new Set([r1.grpc, r2.grpc, r3.grpc]));
    expect(seen.filter((g) => g === r2.grpc)).toHaveLength(2);
    // The scale state stays, and the published record still names the version.
    expect(sut.resolve('busy')).toMatchObject({ version: 'v1', scale: 'AWAKE' });
    // Back to one: the others get no call.
    await routes.setEndpoints('busy', 'v1', { ...r1, replicas: [r1] });
    await expect.poll(() => tryResolve('busy', 'v1')?.replicas).toBeUndefined();
    expect(new Set(turn())).toEqual(new Set([r1.grpc]));
    // A version with no route gets none from an update of its addresses.
    await routes.setEndpoints('busy', 'never-started', r1);
    expect(await (await openGatewayRoutes(nc, names)).get('busy.never-started')).toBeNull();
  });

  function tryResolve(runtimeId: string, version?: string) {
    try {
      return sut.resolve(runtimeId, version);
    } catch {
      return undefined;
    }
  }
});
