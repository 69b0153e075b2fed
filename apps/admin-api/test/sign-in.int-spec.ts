import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './harness.js';

/** The portal's page, as `vite build` writes it (admin-api serves it at /signin). */
const PORTAL_INDEX = `<!doctype html><html><head><script type="module" src="/assets/index-AbC123.js"></script></head><body><div id="root"></div></body></html>`;

const LINK = /\/signin#([A-Za-z0-9_-]{43})/;

/** Everything in the platform database, as text (what a database dump would show). */
async function dump(h: Harness): Promise<string> {
  const db = h.connection().db!;
  const collections = await db.listCollections().toArray();
  const docs = await Promise.all(
    collections.map(async (c) => db.collection(c.name).find().toArray()),
  );
  return JSON.stringify(docs);
}

describe('sign-in by emailed link', () => {
  let h: Harness;
  let portal: string;
  beforeAll(async () => {
    portal = await mkdtemp(join(tmpdir(), 'kre-portal-'));
    await writeFile(join(portal, 'index.html'), PORTAL_INDEX);
    h = await Harness.start({ PORTAL_DIR: portal });
  });
  afterAll(async () => {
    await h.close();
    await rm(portal, { recursive: true, force: true });
  });

  it('signs in through HTTP and SMTP: request, read the mail, verify, then `me` with the cookie', async () => {
    const requested = await h.requestLink(h.adminEmail);
    expect(requested.status).toBe(202);
    const mail = await h.nextMail(h.adminEmail);
    expect(mail.Subject).toBe('Your KRE sign-in link');
    const token = LINK.exec(mail.Text)![1];
    expect(mail.HTML).toContain(`href="${h.url}/signin#${token}"`);

    const verified = await h.verify(token);
    expect(verified.status).toBe(200);
    const session = h.sessionFrom(verified);

    const me = await h.gql('{ me { email platformRole } }', {}, { session });
    expect(me.errors).toBeUndefined();
    expect(me.data).toEqual({ me: { email: h.adminEmail, platformRole: 'ADMIN' } });
  });

  it('A1: answers a known, an unknown and a not-allowed address alike; only the known one gets mail', async () => {
    const unknown = h.email('nobody');
    const outsider = 'someone@elsewhere.example';
    const answers = [];
    for (const email of [h.adminEmail, unknown, outsider]) {
      const response = await h.requestLink(email);
      answers.push({
        status: response.status,
        body: await response.text(),
        headers: [...response.headers].filter(([name]) => name !== 'date' && name !== 'etag'),
      });
    }
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
    expect(answers[0].status).toBe(202);
    await h.nextMail(h.adminEmail);
    expect(await h.mailCount(unknown)).toBe(0);
    expect(await h.mailCount(outsider)).toBe(0);
  });

  it('A2: stores only SHA-256 hashes; neither the link token nor the session id is in the DB or the logs', async () => {
    const email = h.email('a2');
    await h.gql(
      'mutation($input: CreateUserInput!) { createUser(input: $input) { id } }',
      { input: { email, platformRole: 'USER' } },
      { session: await h.signIn(h.adminEmail) },
    );
    await h.requestLink(email);
    const token = await h.nextLinkToken(email);
    const before = await dump(h);
    expect(before).not.toContain(token);
    const links = await h.connection().db!.collection('sign_in_links').find().toArray();
    for (const link of links) expect(link._id).toMatch(/^[0-9a-f]{64}$/);

    const session = h.sessionFrom(await h.verify(token));
    const after = await dump(h);
    expect(after).not.toContain(token);
    expect(after).not.toContain(session);
    const sessions = await h.connection().db!.collection('sessions').find().toArray();
    for (const s of sessions) expect(s._id).toMatch(/^[0-9a-f]{64}$/);
    expect(h.logs.text()).not.toContain(token);
    expect(h.logs.text()).not.toContain(session);
  });

  it('A3: of 20 concurrent verifications of one link exactly one signs in', async () => {
    const { id } = await h.user('a3');
    const sessionsBefore = await h
      .connection()
      .db!.collection('sessions')
      .countDocuments({ userId: id });
    const email = (await h
      .connection()
      .db!.collection('users')
      .findOne({ _id: id as never }))!.email as string;
    await h.requestLink(email);
    const token = await h.nextLinkToken(email);
    const responses = await Promise.all(Array.from({ length: 20 }, () => h.verify(token)));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([200, ...Array<number>(19).fill(400)]);
    const failed = await Promise.all(
      responses.filter((r) => r.status === 400).map((r) => r.json()),
    );
    for (const body of failed) expect(body).toMatchObject({ code: 'INVALID_OR_EXPIRED_LINK' });
    expect(await h.connection().db!.collection('sessions').countDocuments({ userId: id })).toBe(
      sessionsBefore + 1,
    );
  });

  it('A4: a link works up to its expiry (10 minutes by default) and not after, with the same error', async () => {
    const early = await (async () => {
      await h.requestLink(h.adminEmail);
      return h.nextLinkToken(h.adminEmail);
    })();
    h.clock.advance(9 * 60_000 + 59_000);
    expect((await h.verify(early)).status).toBe(200);

    await h.requestLink(h.adminEmail);
    const late = await h.nextLinkToken(h.adminEmail);
    h.clock.advance(10 * 60_000 + 1_000);
    const rejected = await h.verify(late);
    expect(rejected.status).toBe(400);
    expect(await rejected.json()).toEqual({
      code: 'INVALID_OR_EXPIRED_LINK',
      message: 'this sign-in link is invalid or has expired: request a new one',
    });
    const unknown = await h.verify('x'.repeat(43));
    expect(await unknown.json()).toEqual({
      code: 'INVALID_OR_EXPIRED_LINK',
      message: 'this sign-in link is invalid or has expired: request a new one',
    });
  });

  it('A5: only the newest link of an address works', async () => {
    await h.requestLink(h.adminEmail);
    const first = await h.nextLinkToken(h.adminEmail);
    await h.requestLink(h.adminEmail);
    const second = await h.nextLinkToken(h.adminEmail);
    expect((await h.verify(first)).status).toBe(400);
    expect((await h.verify(second)).status).toBe(200);
  });

  it('A6: GET and HEAD of the emailed link (a mail scanner) consume nothing; the page then signs in', async () => {
    await h.requestLink(h.adminEmail);
    const mail = await h.nextMail(h.adminEmail);
    const url = /(http:\/\/\S+\/signin#[A-Za-z0-9_-]{43})/.exec(mail.Text)![1];
    for (const method of ['GET', 'HEAD']) {
      const response = await fetch(url, { method });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/html');
      // The portal's page: its own scripts only (the token is in the fragment, never sent).
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
    }
    const page = await (await fetch(url)).text();
    expect(page).toBe(PORTAL_INDEX);
    expect((await h.verify(LINK.exec(mail.Text)![1])).status).toBe(200);
  });

  it('A9: the link uses FRONTEND_URL whatever Host or X-Forwarded-Host the request names', async () => {
    await h.requestLink(h.adminEmail, {
      'x-forwarded-host': 'evil.test',
      'x-forwarded-proto': 'https',
    });
    const mail = await h.nextMail(h.adminEmail);
    expect(mail.Text).toContain(`${h.url}/signin#`);
    expect(mail.Text + mail.HTML).not.toContain('evil.test');
  });

  it('A10: a new session id on every sign-in; a planted or previous cookie is dead; the cookie flags', async () => {
    const planted = 'p'.repeat(43);
    await h.requestLink(h.adminEmail);
    const verified = await h.verify(await h.nextLinkToken(h.adminEmail), {
      cookie: `${h.cookieName}=${planted}`,
    });
    const session = h.sessionFrom(verified);
    expect(session).not.toBe(planted);
    expect(
      (await h.gql('{ me { id } }', {}, { session: planted })).errors?.[0].extensions?.code,
    ).toBe('UNAUTHENTICATED');
    const cookie = verified.headers.getSetCookie()[0];
    expect(h.cookieName).toBe('__Host-kre_session');
    expect(cookie).toMatch(
      /^__Host-kre_session=[A-Za-z0-9_-]{43}; Path=\/; Expires=[^;]+; HttpOnly; Secure; SameSite=Lax$/,
    );
    expect(cookie).not.toMatch(/Domain=/i);

    // Signing in again from the same browser replaces the session: the old id dies.
    await h.requestLink(h.adminEmail);
    const again = h.sessionFrom(
      await h.verify(await h.nextLinkToken(h.adminEmail), { cookie: `${h.cookieName}=${session}` }),
    );
    expect(again).not.toBe(session);
    expect((await h.gql('{ me { id } }', {}, { session })).errors?.[0].extensions?.code).toBe(
      'UNAUTHENTICATED',
    );
    expect((await h.gql('{ me { id } }', {}, { session: again })).data).toBeTruthy();
  });

  it('creates a user for an allowed domain, at verification; a removed user cannot sign in', async () => {
    const admin = await h.signIn(h.adminEmail);
    const domain = `${h.env.KRE_PREFIX}-allowed.test`;
    await h.gql(
      'mutation($input: SettingsInput!) { updateSettings(input: $input) { authAllowedDomains } }',
      { input: { authAllowedDomains: [domain] } },
      { session: admin },
    );
    const newcomer = `New.Comer@${domain.toUpperCase()}`;
    await h.requestLink(newcomer);
    const session = h.sessionFrom(await h.verify(await h.nextLinkToken(newcomer.toLowerCase())));
    const me = await h.gql<{ me: { id: string; email: string; platformRole: string } }>(
      '{ me { id email platformRole } }',
      {},
      { session },
    );
    expect(me.data?.me).toMatchObject({ email: newcomer.toLowerCase(), platformRole: 'USER' });

    await h.gql(
      'mutation($input: UsersInput!) { removeUsers(input: $input) { id } }',
      { input: { userIds: [me.data!.me.id], comment: 'left' } },
      { session: admin },
    );
    await h.requestLink(newcomer);
    expect(await h.mailCount(newcomer.toLowerCase())).toBe(1); // no second mail
  });

  it('refuses bad input with field-level errors, and a body that is not JSON', async () => {
    const bad = await h.post('/api/v1/auth/signin', { email: 'not-an-address', extra: 1 });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      code: 'BAD_USER_INPUT',
      errors: [
        { field: 'email', message: 'must be an email address' },
        { field: '(body)', message: expect.stringContaining('extra') as string },
      ],
    });
    const form = await fetch(`${h.url}/api/v1/auth/signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `email=${encodeURIComponent(h.adminEmail)}`,
    });
    expect(form.status).toBe(415);
    expect(await form.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });
});
