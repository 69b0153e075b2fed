import { getQueueToken } from '@nestjs/bullmq';
import { VERSIONS_QUEUE } from '@libs/jobs';
import { RuntimesRepository, MembershipsRepository } from '@libs/persistence';
import type { Queue } from 'bullmq';
import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditService } from '../src/audit/audit.service.js';
import { Harness, firstEvent } from './harness.js';

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

/**
 * Any subscription: `received(match)` resolves with the first event (past or future) that
 * matches, `ended` with the error payload (or 'complete') that ended the subscription.
 */
function subscription<T>(client: Client, query: string, variables: Record<string, unknown>) {
  const events: T[] = [];
  const waiting = new Set<{ match: (event: T) => boolean; resolve: (event: T) => void }>();
  const ended = new Promise<unknown>((resolve) => {
    client.subscribe<T>(
      { query, variables },
      {
        next: ({ data }) => {
          if (!data) return;
          events.push(data);
          for (const w of waiting) {
            if (w.match(data)) {
              waiting.delete(w);
              w.resolve(data);
            }
          }
        },
        error: resolve,
        complete: () => resolve('complete'),
      },
    );
  });
  const received = (match: (event: T) => boolean) => {
    const seen = events.find(match);
    return seen
      ? Promise.resolve(seen)
      : new Promise<T>((resolve) => waiting.add({ match, resolve }));
  };
  return { ended, received };
}

/** Runtime events that carry a marker, so a test waits for the very event it caused. */
type Marked =
  | { watchUserActivity: { runtimeId: string; vars: { key: string; value: string }[] } }
  | { watchVersion: { runtimeId: string; step: string } };
const WATCH_ACTIVITY =
  'subscription($r: String) { watchUserActivity(runtimeId: $r) { runtimeId vars { key value } } }';
const WATCH_VERSION = 'subscription($r: ID!) { watchVersion(runtimeId: $r) { runtimeId step } }';
const markerOf = (event: Marked): string | undefined =>
  'watchVersion' in event
    ? event.watchVersion.step
    : event.watchUserActivity.vars.find((v) => v.key === 'marker')?.value;

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

  it('caps a subscribe message at the HTTP transport’s token limit, saying how many it has (#12)', async () => {
    const { client } = h.ws({ auth: { session: admin } });
    const refusal = (query: string) =>
      firstEvent(client, query).value.then(
        () => 'answered',
        (error: unknown) => (error instanceof Error ? error.message : JSON.stringify(error)),
      );
    const many = ' __typename'.repeat(6_000);
    expect(
      await refusal(`subscription { watchUserActivity(runtimeId: "rt-x") { type${many} } }`),
    ).toMatch(/the document has 60\d\d tokens; at most 5000 are allowed/);
    await client.dispose();
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

  describe('runtime access changes end (or re-check) subscriptions on that runtime', () => {
    type Sub = ReturnType<typeof subscription<Marked>>;
    let marks = 0;

    /** A runtime created by the platform admin (its ADMIN member), ready as after its job. */
    const runtime = async (id: string) => {
      const created = await h.gql(
        'mutation($input: CreateRuntimeInput!) { createRuntime(input: $input) { id } }',
        { input: { id, name: id, description: '' } },
        { session: admin },
      );
      expect(created.errors).toBeUndefined();
      await h.get(RuntimesRepository).setStatus(id, 'CREATED');
    };
    const addMember = async (runtimeId: string, email: string, role: string) => {
      const added = await h.gql(
        'mutation($input: AddRuntimeMemberInput!) { addRuntimeMember(input: $input) { role } }',
        { input: { runtimeId, email, role } },
        { session: admin },
      );
      expect(added.errors).toBeUndefined();
    };
    const watch = (client: Client, query: string, runtimeId: string) =>
      subscription<Marked>(client, query, { r: runtimeId });

    /** A watchUserActivity event of the runtime (audit entries reach every replica over NATS). */
    const activity = (runtimeId: string) => async (marker: string) =>
      h.get(AuditService).record({
        type: 'START_VERSION',
        user: { id: 'u', email: 'e@x.test' },
        runtimeId,
        vars: { marker },
      });
    /** A watchVersion event of the runtime: a step of a versions job (no deployer runs here). */
    const versionStep = (runtimeId: string) => async (marker: string) => {
      const queue = h.get<Queue>(getQueueToken(VERSIONS_QUEUE) as never);
      const job = await queue.add('start', { runtimeId, versionName: 'v1', by: 'u' });
      await job.updateProgress({ step: marker });
    };
    /** Sends one marked event; resolves when `sub` delivered that very event. */
    const delivers = async (sub: Sub, send: (marker: string) => Promise<void>, ms = 5_000) => {
      const marker = `m${++marks}`;
      const arrived = sub.received((event) => markerOf(event) === marker);
      await send(marker);
      await within(arrived, ms, `event ${marker}`);
    };
    /** Until one event arrives: the subscription has reached the server and is tracked there. */
    const proveLive = async (sub: Sub, send: (marker: string) => Promise<void>) => {
      for (;;) {
        try {
          return await delivers(sub, send, 200);
        } catch {
          // sent before the subscription existed: send another
        }
      }
    };
    const lost = (runtimeId: string, why: string) => [
      {
        message: `access to runtime "${runtimeId}" was lost: ${why}`,
        extensions: { code: 'FORBIDDEN', runtimeId },
      },
    ];
    const deleted = (runtimeId: string) => [
      {
        message: `runtime "${runtimeId}" was deleted`,
        extensions: { code: 'NOT_FOUND', runtimeId },
      },
    ];
    const removeMember = async (on: Harness, runtimeId: string, userId: string) => {
      const removed = await on.gql(
        'mutation($input: RemoveRuntimeMemberInput!) { removeRuntimeMember(input: $input) { userId } }',
        { input: { runtimeId, userId } },
        { session: admin },
      );
      expect(removed.errors).toBeUndefined();
    };

    it("removeRuntimeMember ends the member's subscriptions on that runtime with FORBIDDEN at once; on another runtime they keep running", async () => {
      await runtime('rt-rm-a');
      await runtime('rt-rm-b');
      const user = await h.user('removed', 'USER', admin);
      await addMember('rt-rm-a', user.email, 'ADMIN');
      await addMember('rt-rm-b', user.email, 'ADMIN');
      const { client } = h.ws({ auth: { session: user.session } });
      const activityA = watch(client, WATCH_ACTIVITY, 'rt-rm-a');
      const versionA = watch(client, WATCH_VERSION, 'rt-rm-a');
      const activityB = watch(client, WATCH_ACTIVITY, 'rt-rm-b');
      await proveLive(activityA, activity('rt-rm-a'));
      await proveLive(versionA, versionStep('rt-rm-a'));
      await proveLive(activityB, activity('rt-rm-b'));

      await removeMember(h, 'rt-rm-a', user.id);
      const why = 'you are no longer a member of it';
      expect(await within(activityA.ended, 5_000, 'activity ended')).toEqual(lost('rt-rm-a', why));
      expect(await within(versionA.ended, 5_000, 'version ended')).toEqual(lost('rt-rm-a', why));
      // Same socket, another runtime: an event sent after the removal still arrives.
      await delivers(activityB, activity('rt-rm-b'));
      await client.dispose();
    });

    it('updateRuntimeMemberRole re-checks: demoted below ADMIN ends watchUserActivity (needs ADMIN); watchVersion (VIEWER may) keeps running', async () => {
      await runtime('rt-demote');
      const user = await h.user('demoted', 'USER', admin);
      await addMember('rt-demote', user.email, 'ADMIN');
      const { client } = h.ws({ auth: { session: user.session } });
      const needsAdmin = watch(client, WATCH_ACTIVITY, 'rt-demote');
      const viewerMay = watch(client, WATCH_VERSION, 'rt-demote');
      await proveLive(needsAdmin, activity('rt-demote'));
      await proveLive(viewerMay, versionStep('rt-demote'));

      const changed = await h.gql(
        'mutation($input: UpdateRuntimeMemberRoleInput!) { updateRuntimeMemberRole(input: $input) { role } }',
        { input: { runtimeId: 'rt-demote', userId: user.id, role: 'VIEWER' } },
        { session: admin },
      );
      expect(changed.errors).toBeUndefined();
      expect(await within(needsAdmin.ended, 5_000, 'watchUserActivity ended')).toEqual(
        lost('rt-demote', 'this subscription needs the ADMIN role, you now have VIEWER'),
      );
      // One re-check judged both before ending either: the survivor still gets new events.
      await delivers(viewerMay, versionStep('rt-demote'));
      await client.dispose();
    });

    it('deleteRuntime ends every subscription on it, for members and platform admins, with "runtime … was deleted"', async () => {
      await runtime('rt-del');
      const member = await h.user('del-admin', 'USER', admin);
      const viewer = await h.user('del-viewer', 'USER', admin);
      await addMember('rt-del', member.email, 'ADMIN');
      await addMember('rt-del', viewer.email, 'VIEWER');
      const clients = [admin, member.session, viewer.session].map(
        (session) => h.ws({ auth: { session } }).client,
      );
      const subs = [
        watch(clients[0], WATCH_ACTIVITY, 'rt-del'), // the platform admin, ADMIN everywhere
        watch(clients[1], WATCH_ACTIVITY, 'rt-del'),
        watch(clients[2], WATCH_VERSION, 'rt-del'),
      ];
      await proveLive(subs[0], activity('rt-del'));
      await proveLive(subs[1], activity('rt-del'));
      await proveLive(subs[2], versionStep('rt-del'));

      const result = await h.gql(
        'mutation { deleteRuntime(input: {id: "rt-del", comment: "gone"}) { status } }',
        {},
        { session: admin },
      );
      expect(result.data).toEqual({ deleteRuntime: { status: 'DELETING' } });
      for (const sub of subs) {
        expect(await within(sub.ended, 5_000, 'subscription ended')).toEqual(deleted('rt-del'));
      }
      for (const client of clients) await client.dispose();
    });

    /** Another admin-api replica of the same installation (database, Redis, NATS). */
    const replica = (overrides: Record<string, string> = {}) =>
      Harness.start({
        KRE_PREFIX: h.env.KRE_PREFIX,
        CONFIG_ENCRYPTION_KEY: h.env.CONFIG_ENCRYPTION_KEY,
        ADMIN_EMAIL: h.env.ADMIN_EMAIL,
        ...overrides,
      });

    describe('with a second admin-api replica', () => {
      let h2: Harness;
      // Its re-check runs every 30 s, far beyond the test's 5 s: only the broadcast can pass.
      beforeAll(async () => {
        h2 = await replica();
      });
      afterAll(() => h2?.close());

      it('a removal made on one replica ends the subscription another replica serves; its other runtime keeps running there', async () => {
        await runtime('rt-two-a');
        await runtime('rt-two-b');
        const user = await h.user('two-replicas', 'USER', admin);
        await addMember('rt-two-a', user.email, 'ADMIN');
        await addMember('rt-two-b', user.email, 'ADMIN');
        const { client } = h2.ws({ auth: { session: user.session } });
        const onA = watch(client, WATCH_ACTIVITY, 'rt-two-a');
        const onB = watch(client, WATCH_ACTIVITY, 'rt-two-b');
        await proveLive(onA, activity('rt-two-a'));
        await proveLive(onB, activity('rt-two-b'));

        await removeMember(h, 'rt-two-a', user.id);
        expect(await within(onA.ended, 5_000, 'ended on the other replica')).toEqual(
          lost('rt-two-a', 'you are no longer a member of it'),
        );
        await delivers(onB, activity('rt-two-b'));
        await client.dispose();
      });
    });

    describe('with a replica that re-checks every second', () => {
      let h2: Harness;
      beforeAll(async () => {
        h2 = await replica({ WS_AUTH_RECHECK_SECONDS: '1' });
      });
      afterAll(() => h2?.close());

      it('a lost message: the periodic re-check ends a subscription whose membership went', async () => {
        await runtime('rt-lost');
        const user = await h.user('lost-message', 'USER', admin);
        await addMember('rt-lost', user.email, 'ADMIN');
        const { client } = h2.ws({ auth: { session: user.session } });
        const sub = watch(client, WATCH_ACTIVITY, 'rt-lost');
        await proveLive(sub, activity('rt-lost'));
        // Straight in the database: no broadcast, as if NATS had dropped it.
        await h.get(MembershipsRepository).remove('rt-lost', user.id);
        expect(await within(sub.ended, 5_000, 'ended by the re-check')).toEqual(
          lost('rt-lost', 'you are no longer a member of it'),
        );
        await client.dispose();
      });
    });
  });
});
