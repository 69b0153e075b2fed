import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './harness.js';

const INVALID = {
  code: 'INVALID_OR_EXPIRED_LINK',
  message: 'this sign-in link is invalid or has expired: request a new one',
};

// Login CSRF: a link that someone else requested, opened in this browser, must not sign this
// browser into their account without the person seeing whose account it is. The portal's
// sign-in page (apps/admin-ui) asks with inspect and verifies on a click: its component test
// and the browser journey (e2e/portal.e2e-spec.ts) check that side.
describe('sign-in confirmation step', () => {
  let h: Harness;
  let admin: string;
  beforeAll(async () => {
    h = await Harness.start();
    admin = await h.signIn(h.adminEmail);
  });
  afterAll(() => h.close());

  const user = async (name: string) => (await h.createUser(name, 'USER', admin)).email;
  const link = async (email: string) => {
    await h.requestLink(email);
    return h.nextLinkToken(email);
  };
  const inspect = (token: unknown) => h.post('/api/v1/auth/signin/inspect', { token });
  const linkCount = () => h.connection().db!.collection('sign_in_links').countDocuments();

  it('inspect tells whose account a link opens and consumes nothing: the link signs in after', async () => {
    const email = await user('inspected');
    const token = await link(email);
    const links = await linkCount();
    for (let i = 0; i < 3; i++) {
      const answer = await inspect(token);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('cache-control')).toBe('no-store');
      expect(answer.headers.getSetCookie()).toEqual([]);
      expect(await answer.json()).toEqual({ email });
    }
    expect(await linkCount()).toBe(links);
    const verified = await h.verify(token);
    expect(verified.status).toBe(200);
    const me = await h.gql('{ me { email } }', {}, { session: h.sessionFrom(verified) });
    expect(me.data).toEqual({ me: { email } });
  });

  it('inspect answers an unusable link exactly as verify does, revealing nothing', async () => {
    const email = await user('unusable');
    const used = await link(email);
    expect((await h.verify(used)).status).toBe(200);
    const superseded = await link(email);
    const newest = await link(email);
    const expired = await link(await user('expired'));
    h.clock.advance(10 * 60_000 + 1_000);
    const tokens = {
      random: randomBytes(32).toString('base64url'),
      malformed: 'not a token',
      used,
      superseded,
      expired,
      newestButExpired: newest,
    };
    for (const [what, token] of Object.entries(tokens)) {
      const inspected = await inspect(token);
      expect({ what, status: inspected.status, body: await inspected.json() }).toEqual({
        what,
        status: 400,
        body: INVALID,
      });
    }
    const removed = await user('removed');
    const removedLink = await link(removed);
    const id = (await h
      .connection()
      .db!.collection('users')
      .findOne({ email: removed }))!._id.toString();
    await h.gql(
      'mutation($input: UsersInput!) { removeUsers(input: $input) { id } }',
      { input: { userIds: [id], comment: 'left' } },
      { session: admin },
    );
    const inspected = await inspect(removedLink);
    expect(await inspected.json()).toEqual(INVALID);
    expect(inspected.status).toBe(400);
    const verified = await h.verify(removedLink);
    expect(await verified.json()).toEqual(INVALID);
  });

  it('inspect takes JSON only (415 for a form), and a well-formed body', async () => {
    const form = await fetch(`${h.url}/api/v1/auth/signin/inspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=x',
    });
    expect(form.status).toBe(415);
    const bad = await h.post('/api/v1/auth/signin/inspect', { token: 1, email: 'x@y.z' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('programs keep verifying directly: a link requested by curl signs in with one POST', async () => {
    const email = await user('program');
    const verified = await h.verify(await link(email));
    expect(verified.status).toBe(200);
    expect(await verified.json()).toMatchObject({ message: 'signed in', user: { email } });
  });
});

describe('sign-in confirmation step, rate limited', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ THROTTLE_VERIFY_PER_IP: '5/1m' });
  });
  afterAll(() => h.close());

  it('inspect and verify share one limit per client: inspecting cannot be used to guess links', async () => {
    const statuses: string[] = [];
    for (let i = 0; i < 8; i++) {
      const token = randomBytes(32).toString('base64url');
      const response =
        i % 2 === 0
          ? await h.post('/api/v1/auth/signin/inspect', { token })
          : await h.verify(token);
      statuses.push(`${i % 2 === 0 ? 'inspect' : 'verify'} ${response.status}`);
      if (response.status === 429)
        expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(statuses).toEqual([
      'inspect 400',
      'verify 400',
      'inspect 400',
      'verify 400',
      'inspect 400',
      'verify 429',
      'inspect 429',
      'verify 429',
    ]);
  });
});
