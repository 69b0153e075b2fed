import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  RECORD_ID,
  RecordIds,
  connectNats,
  encodeRecord,
  provisionObservabilityStream,
} from '@libs/messaging';
import { Names } from '@libs/naming';
import {
  type AppProcess,
  engineCredentials,
  freePort,
  runApp,
  testEnv,
  waitForHttp,
  waitForMail,
} from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const LINES = 10_000;
const PAGE = 100;
/** One line every 30 s from here: 10,000 lines span 3.5 days, so pages cross day collections. */
const FIRST = Date.parse('2026-11-02T20:00:00.000Z');
const STEP_MS = 30_000;

interface Page {
  items: { id: string; date: string; message: string; level: string }[];
  cursor: string | null;
}

/**
 * 10,000 log lines through the real path (#15): published as the runners publish them (core NATS
 * on `<p>.<rt>.obs.logs`, each with its producer-made id), stored by the mongo-writer process into
 * FerretDB, and paged through with admin-api's `logs` query (processes, production NATS
 * identities, a member's session). Every line comes back exactly once, newest first.
 */
describe('observability: 10,000 lines from the stream to the logs query', () => {
  const env = testEnv();
  const names = new Names(env.KRE_PREFIX);
  const rt = 'obs-e2e';
  const apps: AppProcess[] = [];
  let api: string;
  let cookie = '';
  let nc: NatsConnection;

  const gql = async <T>(query: string, variables: Record<string, unknown> = {}): Promise<T> => {
    const response = await fetch(`${api}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: T; errors?: unknown };
    if (!body.data) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };

  beforeAll(async () => {
    const [apiPort, writerPort] = await Promise.all([freePort(), freePort()]);
    api = `http://127.0.0.1:${apiPort}`;
    const email = `admin@${env.KRE_PREFIX}.test`;
    const common = { ...env, ADMIN_EMAIL: email };
    const admin = runApp('admin-api', {
      ...common,
      NATS_CREDS: await engineCredentials(env, 'admin-api'),
      ADMIN_API_PORT: String(apiPort),
      FRONTEND_URL: api,
    });
    const writer = runApp('mongo-writer', {
      ...common,
      NATS_CREDS: await engineCredentials(env, 'mongo-writer'),
      MONGO_WRITER_HEALTH_PORT: String(writerPort),
    });
    apps.push(admin, writer);
    await waitForHttp(`${api}/health`, admin);
    await waitForHttp(`http://127.0.0.1:${writerPort}/health`, writer);

    const post = (path: string, body: unknown) =>
      fetch(`${api}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post('/api/v1/auth/signin', { email })).status).toBe(202);
    const mail = await waitForMail(env.MAILPIT_URL, email);
    const link = /\/signin#([A-Za-z0-9_-]{43})/.exec(mail.Text);
    const verified = await post('/api/v1/auth/signin/verify', { token: link?.[1] });
    cookie = verified.headers.getSetCookie()[0].split(';')[0]!;
    // The runtime's record (its ADMIN is the creator); its stream as the deployer makes it.
    await gql(`mutation { createRuntime(input: {id: "${rt}", name: "Obs"}) { id } }`);
    nc = await connectNats({ url: env.NATS_URL, credentials: env.NATS_CREDS, name: 'obs-e2e' });
    await provisionObservabilityStream(await jetstreamManager(nc), names, rt, { storage: 'file' });
  }, 120_000);

  afterAll(async () => {
    await nc?.drain();
    for (const app of apps) await app.stop();
  });

  it('stores every line once and pages through all of them, newest first, across day boundaries', async () => {
    const ids = new RecordIds();
    const origin = { runtimeId: rt, version: 'v1', workflow: 'wf', node: 'n1', replica: 'r1' };
    const subject = names.obsSubject(rt, 'logs');
    for (let i = 0; i < LINES; i++) {
      nc.publish(
        subject,
        encodeRecord('logs', {
          id: ids.next(),
          time: new Date(FIRST + i * STEP_MS),
          origin,
          level: i % 10 === 0 ? 'WARN' : 'INFO',
          message: `line ${i}`,
          source: 'LOGGER',
        }),
      );
      if (i % 1_000 === 999) await nc.flush();
    }
    await nc.flush();
    const info = await (await jetstreamManager(nc)).streams.info(names.obsStream(rt));
    expect(info.state.messages).toBe(LINES); // the stream has them all

    const filters = {
      startDate: new Date(FIRST).toISOString(),
      endDate: new Date(FIRST + LINES * STEP_MS).toISOString(),
    };
    const QUERY = `query($r: ID!, $f: LogFilters!, $c: String, $l: Int) {
      logs(runtimeId: $r, filters: $f, cursor: $c, limit: $l) { items { id date message level } cursor }
    }`;
    const page = (cursor: string | null) =>
      gql<{ logs: Page }>(QUERY, { r: rt, f: filters, c: cursor, l: PAGE });
    // mongo-writer writes one runtime's batches in stream order, one at a time: once the last
    // line published is readable, every line before it was stored.
    await expect
      .poll(
        async () =>
          (await gql<{ logs: Page }>(QUERY, { r: rt, f: filters, l: 1 })).logs.items[0]?.message,
        {
          timeout: 120_000,
          interval: 1_000,
        },
      )
      .toBe(`line ${LINES - 1}`);

    const seen: Page['items'] = [];
    let pages = 0;
    let cursor: string | null = null;
    do {
      const { logs } = await page(cursor);
      seen.push(...logs.items);
      cursor = logs.cursor;
      pages += 1;
    } while (cursor);

    expect(seen).toHaveLength(LINES);
    expect(pages).toBe(LINES / PAGE);
    expect(seen.map((l) => l.message)).toEqual(
      Array.from({ length: LINES }, (_, i) => `line ${LINES - 1 - i}`),
    );
    expect(new Set(seen.map((l) => l.id)).size).toBe(LINES);
    expect(seen.every((l) => RECORD_ID.test(l.id))).toBe(true);
    expect(seen[0]).toMatchObject({
      date: new Date(FIRST + (LINES - 1) * STEP_MS).toISOString(),
      level: 'INFO',
    });
    expect(seen.filter((l) => l.level === 'WARN')).toHaveLength(LINES / 10);
  });
});
