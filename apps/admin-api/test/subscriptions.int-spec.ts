import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditService } from '../src/audit/audit.service.js';
import { MembershipsRepository } from '../src/users/memberships.repository.js';
import { Harness } from './harness.js';

const WATCH =
  'subscription($r: String) { watchUserActivity(runtimeId: $r) { type runtimeId userEmail } }';

interface Event {
  watchUserActivity: { type: string; runtimeId: string | null; userEmail: string };
}

/** Subscribes and collects every event; `live` resolves once the first event arrived. */
function watch(client: Client, runtimeId: string | null) {
  const events: Event[] = [];
  let onFirst: () => void = () => undefined;
  const live = new Promise<void>((resolve) => (onFirst = resolve));
  const ended = new Promise<unknown>((resolve) => {
    client.subscribe<Event>(
      { query: WATCH, variables: { r: runtimeId } },
      {
        next: (result) => {
          if (result.data) events.push(result.data);
          onFirst();
        },
        error: resolve,
        complete: () => resolve('complete'),
      },
    );
  });
  return { events, live, ended };
}

const within = <T>(promise: Promise<T>, ms: number, what: string) =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms),
    ),
  ]);

describe('GraphQL subscriptions over graphql-ws', () => {
  let h: Harness;
  let admin: string;
  beforeAll(async () => {
    h = await Harness.start();
    admin = await h.signIn(h.adminEmail);
  });
  afterAll(() => h.close());

  /** A runtime admin whose subscription to rt-<name> is proven live. */
  const liveWatcher = async (name: string) => {
    const user = await h.user(name, 'USER', admin);
    await h.get(MembershipsRepository).put(`rt-${name}`, user.id, 'ADMIN', h.clock.now());
    const { client, closed } = h.ws({ auth: { session: user.session } });
    const subscription = watch(client, `rt-${name}`);
    const audit = h.get(AuditService);
    // Events keep coming until the subscription has surely reached the server.
    while (subscription.events.length === 0) {
      await audit.record({ type: 'START_VERSION', user, runtimeId: `rt-${name}` });
      await within(subscription.live, 200, 'first event').catch(() => undefined);
    }
    return { user, client, closed, subscription };
  };

  it('refuses the upgrade from a browser origin that is not the frontend; programs without Origin pass', async () => {
    const open = (headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const socket = new WebSocket(
          `${h.url.replace('http', 'ws')}/graphql`,
          'graphql-transport-ws',
          { headers },
        );
        socket.on('open', () => {
          socket.close();
          resolve(101);
        });
        socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        socket.on('error', () => undefined);
      });
    expect(await open({ origin: 'https://evil.test' })).toBe(403);
    expect(await open({ origin: h.url })).toBe(101);
    expect(await open({})).toBe(101);
  });

  it('closes a connection_init without valid credentials with 4403', async () => {
    const { client, closed } = h.ws({});
    expect((await closed).code).toBe(4403);
    await client.dispose();
    const bad = h.ws({ connectionParams: { authorization: 'Bearer kre_bogus' } });
    expect((await bad.closed).code).toBe(4403);
    await bad.client.dispose();
  });

  it("delivers a runtime's events to its admins only (I2: never another runtime's)", async () => {
    const { client, subscription, user } = await liveWatcher('events');
    const audit = h.get(AuditService);
    await audit.record({ type: 'STOP_VERSION', user, runtimeId: 'rt-other' });
    await audit.record({ type: 'PUBLISH_VERSION', user, runtimeId: 'rt-events' });
    await expect
      .poll(() => subscription.events.at(-1)?.watchUserActivity.type)
      .toBe('PUBLISH_VERSION');
    expect(subscription.events.map((e) => e.watchUserActivity.runtimeId)).not.toContain('rt-other');
    await client.dispose();
  });

  it('A11: revokeUserSessions closes the user’s open subscriptions within 5 s', async () => {
    const { user, closed } = await liveWatcher('revoked');
    await h.gql(
      'mutation($ids: [ID!]!) { revokeUserSessions(input: {userIds: $ids, comment: "x"}) { id } }',
      { ids: [user.id] },
      { session: admin },
    );
    expect((await within(closed, 5_000, 'socket closed')).code).toBe(4401);
  });

  it('A11: logout closes the subscriptions of that session within 5 s', async () => {
    const { user, closed } = await liveWatcher('logout');
    await fetch(`${h.url}/api/v1/auth/logout`, {
      method: 'POST',
      headers: { cookie: `${h.cookieName}=${user.session}` },
    });
    expect((await within(closed, 5_000, 'socket closed')).code).toBe(4401);
  });

  it('T4: deleting an API token closes the subscriptions it authenticated within 5 s', async () => {
    const owner = await h.user('token-owner', 'USER', admin);
    const { data } = await h.gql<{ generateApiToken: { token: string; apiToken: { id: string } } }>(
      'mutation { generateApiToken(input: {name: "ws", expiresInDays: 1}) { token apiToken { id } } }',
      {},
      { session: owner.session },
    );
    const { token, apiToken } = data!.generateApiToken;
    await h.get(MembershipsRepository).put('rt-token-owner', owner.id, 'VIEWER', h.clock.now());
    const { client, closed } = h.ws({ connectionParams: { authorization: `Bearer ${token}` } });
    const me = await new Promise((resolve, reject) =>
      client.subscribe(
        { query: '{ me { email } }' },
        { next: resolve, error: reject, complete: () => undefined },
      ),
    );
    expect(me).toEqual({ data: { me: { email: owner.email } } }); // queries work over the socket too
    await h.gql(
      'mutation($id: ID!) { deleteApiToken(input: {id: $id}) { id } }',
      { id: apiToken.id },
      { session: owner.session },
    );
    expect((await within(closed, 5_000, 'socket closed')).code).toBe(4401);
  });
});
