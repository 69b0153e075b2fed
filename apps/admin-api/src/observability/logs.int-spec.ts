import {
  type LogRecordInput,
  RecordIds,
  connectNats,
  encodeRecord,
  formatRecordId,
} from '@libs/messaging';
import { Names } from '@libs/naming';
import { dayCollection } from '@libs/observability';
import { MembershipsRepository } from '@libs/persistence';
import { engineCredentials, testEnv, testPrefix } from '@libs/testing';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../../test/harness.js';

interface Line {
  id: string | null;
  date: string;
  level: string;
  message: string;
  versionName: string;
  workflowName: string | null;
  nodeName: string;
  requestId: string | null;
}
interface Page {
  items: Line[];
  cursor: string | null;
}

const LOGS = `query($r: ID!, $f: LogFilters!, $c: String, $l: Int) {
  logs(runtimeId: $r, filters: $f, cursor: $c, limit: $l) {
    items { id date level message versionName workflowName nodeName requestId } cursor
  }
}`;
const WATCH = `subscription($r: ID!, $v: String!, $f: LogTailFilters) {
  watchNodeLogs(runtimeId: $r, versionName: $v, filters: $f) {
    id level message versionName workflowName nodeName requestId
  }
}`;

/** A stored line as mongo-writer writes it (docs/data.md). */
const stored = (
  id: number | string,
  time: string,
  message: string,
  more: {
    level?: string;
    version?: string;
    workflow?: string;
    node?: string;
    requestId?: string;
  } = {},
) => ({
  _id: id,
  time: new Date(time),
  origin: {
    runtimeId: 'ignored',
    version: more.version ?? 'v1',
    workflow: more.workflow ?? 'wf',
    node: more.node ?? 'n1',
    replica: 'r1',
  },
  level: more.level ?? 'INFO',
  message,
  source: 'LOGGER',
  ...(more.requestId ? { requestId: more.requestId } : {}),
});

describe('logs and watchNodeLogs', () => {
  const prefix = testPrefix();
  const names = new Names(prefix);
  let h: Harness;
  let admin: string;
  let viewer: { id: string; session: string };
  let nc: NatsConnection;

  beforeAll(async () => {
    const env = testEnv({ KRE_PREFIX: prefix });
    // admin-api's production NATS identity: the live tail needs its subscribe permission.
    h = await Harness.start({
      KRE_PREFIX: prefix,
      NATS_CREDS: await engineCredentials(env, 'admin-api'),
    });
    nc = await connectNats({ url: env.NATS_URL, credentials: env.NATS_CREDS, name: 'test' });
    admin = await h.signIn(h.adminEmail);
    viewer = await h.user('viewer', 'USER', admin);
    const members = h.get(MembershipsRepository);
    for (const rt of ['rt-page', 'rt-mixed', 'rt-filter', 'rt-tail'])
      await members.put(rt, viewer.id, 'VIEWER', h.clock.now());
  });
  afterAll(async () => {
    await nc?.drain();
    await h?.close();
  });

  const seed = async (rt: string, docs: ReturnType<typeof stored>[]) => {
    const db = h.connection().getClient().db(names.runtimeDb(rt));
    for (const doc of docs)
      await db.collection<{ _id: number | string }>(dayCollection('logs', doc.time)).insertOne(doc);
  };
  const logs = (variables: Record<string, unknown>, session = viewer.session) =>
    h.gql<{ logs: Page }>(LOGS, variables, { session });

  it('pages newest first across day boundaries, stable while newer lines arrive', async () => {
    const lines = [
      stored(1, '2026-12-03T10:00:00.000Z', 'a'),
      stored(2, '2026-12-04T23:59:59.999Z', 'b'),
      stored(3, '2026-12-05T00:00:00.000Z', 'c'),
      stored(5, '2026-12-05T00:00:00.000Z', 'd'), // same time as c: the id orders them
      stored(4, '2026-12-05T12:00:00.000Z', 'e'),
      stored(6, '2026-12-06T08:00:00.000Z', 'f'),
      stored(7, '2026-12-08T08:00:00.000Z', 'outside the range'),
    ];
    await seed('rt-page', lines);
    const filters = { startDate: '2026-12-01T00:00:00Z', endDate: '2026-12-07T00:00:00Z' };

    const first = await logs({ r: 'rt-page', f: filters, l: 2 });
    expect(first.errors).toBeUndefined();
    const seen = [...first.data!.logs.items];
    // A line newer than the first page, stored meanwhile, does not shift the next pages.
    await seed('rt-page', [stored(8, '2026-12-06T09:00:00.000Z', 'late')]);
    let cursor = first.data!.logs.cursor;
    let pages = 1;
    while (cursor) {
      const page = await logs({ r: 'rt-page', f: filters, c: cursor, l: 2 });
      expect(page.errors).toBeUndefined();
      seen.push(...page.data!.logs.items);
      cursor = page.data!.logs.cursor;
      pages += 1;
    }
    expect(seen.map((l) => l.message)).toEqual(['f', 'e', 'd', 'c', 'b', 'a']);
    expect(seen.map((l) => l.id)).toEqual(['6', '4', '5', '3', '2', '1']);
    expect(pages).toBe(3); // the last full page says there is no more
    expect(seen[0]).toMatchObject({
      date: '2026-12-06T08:00:00.000Z',
      level: 'INFO',
      versionName: 'v1',
      workflowName: 'wf',
      nodeName: 'n1',
      requestId: null,
    });
  });

  it('pages through producer-made ids and older stream sequences of the same instant without a gap or a repeat', async () => {
    const at = '2026-12-05T10:00:00.000Z';
    const ms = Date.parse(at);
    const [x, y, z] = [
      formatRecordId(ms, 7, 0),
      formatRecordId(ms, 7, 1),
      formatRecordId(ms, 9, 0),
    ];
    await seed('rt-mixed', [
      stored(11, at, 'seq 11'),
      stored(12, at, 'seq 12'),
      stored(x, at, 'id x'),
      stored(z, at, 'id z'),
      stored(y, at, 'id y'),
      stored(formatRecordId(ms + 1, 1, 0), '2026-12-05T10:00:00.001Z', 'newer'),
      stored(10, '2026-12-05T09:59:59.999Z', 'older'),
    ]);
    const filters = { startDate: '2026-12-05T00:00:00Z', endDate: '2026-12-06T00:00:00Z' };
    const seen: Line[] = [];
    let cursor: string | null | undefined;
    do {
      const page = await logs({ r: 'rt-mixed', f: filters, c: cursor, l: 2 });
      expect(page.errors).toBeUndefined();
      seen.push(...page.data!.logs.items);
      cursor = page.data!.logs.cursor;
    } while (cursor);
    // Within one instant: ids newest first (strings sort after every number), then sequences.
    expect(seen.map((l) => l.message)).toEqual([
      'newer',
      'id z',
      'id y',
      'id x',
      'seq 12',
      'seq 11',
      'older',
    ]);
    expect(seen.slice(1, 4).map((l) => l.id)).toEqual([z, y, x]);
  });

  it('filters on levels, versions, workflows, nodes, request id and a literal case-insensitive search', async () => {
    await seed('rt-filter', [
      stored(1, '2026-12-05T01:00:00Z', 'Loaded A.C model', { level: 'ERROR' }),
      stored(2, '2026-12-05T02:00:00Z', 'loaded abc model', { level: 'ERROR' }),
      stored(3, '2026-12-05T03:00:00Z', 'odd (x chars', { level: 'WARN', workflow: 'wf2' }),
      stored(4, '2026-12-05T04:00:00Z', 'other version', { version: 'v2', node: 'n2' }),
      stored(5, '2026-12-05T05:00:00Z', 'one request', { requestId: 'req-1' }),
    ]);
    const ids = async (extra: Record<string, unknown>) => {
      const result = await logs({
        r: 'rt-filter',
        f: { startDate: '2026-12-05T00:00:00Z', endDate: '2026-12-06T00:00:00Z', ...extra },
      });
      expect(result.errors).toBeUndefined();
      return result.data!.logs.items.map((l) => l.id);
    };
    expect(await ids({})).toEqual(['5', '4', '3', '2', '1']);
    expect(await ids({ search: 'a.c' })).toEqual(['1']); // '.' is no wildcard
    expect(await ids({ search: 'LOADED' })).toEqual(['2', '1']);
    expect(await ids({ search: '(x' })).toEqual(['3']);
    expect(await ids({ levels: ['WARN', 'ERROR'] })).toEqual(['3', '2', '1']);
    expect(await ids({ versionNames: ['v2'] })).toEqual(['4']);
    expect(await ids({ workflowNames: ['wf2'] })).toEqual(['3']);
    expect(await ids({ nodeNames: ['n2'] })).toEqual(['4']);
    expect(await ids({ requestId: 'req-1' })).toEqual(['5']);
    expect(await ids({ levels: ['ERROR'], search: 'abc' })).toEqual(['2']);
    expect(
      await ids({ startDate: '2026-12-05T01:30:00Z', endDate: '2026-12-05T03:00:00Z' }),
    ).toEqual(['3', '2']);
  });

  it('refuses a reversed or too long range, a large page and a foreign cursor, naming the field', async () => {
    const error = async (variables: Record<string, unknown>) =>
      (await logs({ r: 'rt-filter', ...variables })).errors?.[0]?.extensions;
    expect(
      await error({ f: { startDate: '2026-12-05T00:00:00Z', endDate: '2026-12-04T00:00:00Z' } }),
    ).toMatchObject({
      code: 'BAD_USER_INPUT',
      errors: [{ field: 'filters.endDate', message: 'must not precede filters.startDate' }],
    });
    expect(
      await error({ f: { startDate: '2025-01-01T00:00:00Z', endDate: '2026-12-04T00:00:00Z' } }),
    ).toMatchObject({ errors: [{ field: 'filters.endDate' }] });
    expect(await error({ f: { startDate: '2026-12-05T00:00:00Z' }, l: 101 })).toMatchObject({
      errors: [{ field: 'limit', message: 'must be at most 100' }],
    });
    expect(await error({ f: { startDate: '2026-12-05T00:00:00Z' }, c: 'bogus' })).toMatchObject({
      errors: [{ field: 'cursor' }],
    });
    expect(
      await error({ f: { startDate: '2026-12-05T00:00:00Z', levels: ['LOUD'] } }),
    ).toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('gives a member of another runtime nothing, in the query and the subscription', async () => {
    const outsider = await h.user('outsider', 'USER', admin);
    await h.get(MembershipsRepository).put('rt-elsewhere', outsider.id, 'ADMIN', h.clock.now());
    const query = await logs(
      { r: 'rt-filter', f: { startDate: '2026-12-05T00:00:00Z' } },
      outsider.session,
    );
    expect(query.data).toBeNull();
    expect(query.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const { client } = h.ws({ auth: { session: outsider.session } });
    const refused = await new Promise<unknown>((resolve) =>
      client.subscribe(
        { query: WATCH, variables: { r: 'rt-filter', v: 'v1' } },
        { next: resolve, error: resolve, complete: () => resolve('complete') },
      ),
    );
    expect(JSON.stringify(refused)).toContain('NOT_FOUND');
    await client.dispose();
  });

  describe('watchNodeLogs', () => {
    let client: Client;
    afterAll(() => client?.dispose());

    const origin = (more: Partial<LogRecordInput['origin']> = {}) => ({
      runtimeId: 'rt-tail',
      version: 'v1',
      workflow: 'wf2',
      node: 'n1',
      replica: 'r1',
      ...more,
    });
    const publish = (
      rt: string,
      message: string,
      more: Partial<Omit<LogRecordInput, 'origin'>> & { origin?: LogRecordInput['origin'] } = {},
    ) =>
      nc.publish(
        names.obsSubject(rt, 'logs'),
        encodeRecord('logs', {
          time: new Date(),
          origin: origin(),
          level: 'ERROR',
          message,
          source: 'LOGGER',
          ...more,
        }),
      );

    it('follows only the lines matching every filter (search and workflows included)', async () => {
      ({ client } = h.ws({ auth: { session: viewer.session } }));
      const received: Line[] = [];
      const waiting = new Map<string, () => void>();
      const arrived = (message: string) =>
        received.some((l) => l.message === message)
          ? Promise.resolve()
          : new Promise<void>((resolve) => waiting.set(message, resolve));
      client.subscribe<{ watchNodeLogs: Line }>(
        {
          query: WATCH,
          variables: {
            r: 'rt-tail',
            v: 'v1',
            f: { search: 'NEEDLE', levels: ['ERROR'], workflowNames: ['wf2'], nodeNames: ['n1'] },
          },
        },
        {
          next: ({ data, errors }) => {
            if (errors) throw new Error(JSON.stringify(errors));
            const line = data!.watchNodeLogs;
            received.push(line);
            waiting.get(line.message)?.();
          },
          error: (e) => {
            throw new Error(JSON.stringify(e));
          },
          complete: () => undefined,
        },
      );
      // Matching lines keep coming until the subscription has surely reached NATS.
      const live = arrived('needle ready');
      let ready = false;
      void live.then(() => (ready = true));
      while (!ready) {
        publish('rt-tail', 'needle ready');
        await Promise.race([live, new Promise((r) => setTimeout(r, 100))]);
      }

      publish('rt-tail', 'no match here');
      publish('rt-tail', 'a needle but WARN', { level: 'WARN' });
      publish('rt-tail', 'a needle of wf', { origin: origin({ workflow: 'wf' }) });
      publish('rt-tail', 'a needle of v2', { origin: origin({ version: 'v2' }) });
      publish('rt-tail', 'a needle of n2', { origin: origin({ node: 'n2' }) });
      publish('rt-other', 'a needle of another runtime', {
        origin: origin({ runtimeId: 'rt-other' }),
      });
      const id = new RecordIds().next();
      publish('rt-tail', 'the Needle, matching', { requestId: 'req-9', id });
      publish('rt-tail', 'needle end');
      // One publisher, one subscriber: NATS keeps the order, so the others came before the end.
      await arrived('needle end');
      expect(received.filter((l) => l.message !== 'needle ready').map((l) => l.message)).toEqual([
        'the Needle, matching',
        'needle end',
      ]);
      // A live line carries the id its producer made, the one it is stored under; a record
      // without one (an older runner) has none live.
      expect(received.find((l) => l.message === 'needle end')?.id).toBeNull();
      expect(received.find((l) => l.message === 'the Needle, matching')).toEqual({
        id,
        level: 'ERROR',
        message: 'the Needle, matching',
        versionName: 'v1',
        workflowName: 'wf2',
        nodeName: 'n1',
        requestId: 'req-9',
      });
    });
  });
});
