import { createHash, randomBytes } from 'node:crypto';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './harness.js';

const INVALID = {
  code: 'INVALID_OR_EXPIRED_LINK',
  message: 'this sign-in link is invalid or has expired: request a new one',
};

/** A stand-in for the few DOM objects the /signin page's script touches. */
class FakeElement {
  textContent = '';
  disabled = false;
  readonly dataset: Record<string, string> = {};
  readonly email = { value: '' };
  private readonly listeners = new Map<string, ((event: unknown) => unknown)[]>();
  constructor(public hidden: boolean) {}
  addEventListener(type: string, listener: (event: unknown) => unknown): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  /** What the browser does on a click (or a submit): the listeners run. */
  dispatch(type: string): void {
    for (const listener of this.listeners.get(type) ?? []) listener({ preventDefault() {} });
  }
}

/**
 * The page as a browser would run it, minus rendering: its own script (the one the CSP hash
 * allows) against fake elements built from the page's ids, with `fetch` going to the real server.
 * Every call the script makes is recorded.
 */
async function openPage(h: Harness, token: string) {
  const response = await fetch(`${h.url}/signin#${token}`);
  const html = await response.text();
  const script = /<script>([\s\S]*)<\/script>/.exec(html)![1];
  const csp = response.headers.get('content-security-policy')!;
  expect(csp).toContain(
    `script-src 'sha256-${createHash('sha256').update(script).digest('base64')}'`,
  );
  const elements = new Map<string, FakeElement>();
  for (const [, tag, id] of html.matchAll(/<(\w+)[^>]*\bid="([^"]+)"[^>]*>/g)) {
    const opening = new RegExp(`<${tag}[^>]*\\bid="${id}"[^>]*>`).exec(html)![0];
    elements.set(id, new FakeElement(/\shidden[\s>]/.test(opening)));
  }
  const calls: string[] = [];
  let cookie: string | undefined;
  const pending: Promise<unknown>[] = [];
  const page = {
    calls,
    html,
    el: (id: string) => elements.get(id)!,
    /** The session cookie the server set on this page's requests, if any. */
    cookie: () => cookie,
    /** Waits until every request the script made has been answered and handled. */
    settle: async () => {
      for (let seen = -1; seen !== pending.length;) {
        seen = pending.length;
        await Promise.allSettled(pending);
        await new Promise((resolve) => setImmediate(resolve));
      }
    },
  };
  runInNewContext(script, {
    document: { getElementById: (id: string) => elements.get(id) ?? null },
    location: { hash: `#${token}`, pathname: '/signin' },
    history: { replaceState: () => undefined },
    fetch: (path: string, init: RequestInit) => {
      calls.push(path.replace('/api/v1/auth/', ''));
      const answer = fetch(`${h.url}${path}`, init).then((res) => {
        const set = res.headers.getSetCookie().find((c) => c.startsWith(`${h.cookieName}=`));
        if (set) cookie = set.split(';')[0].slice(h.cookieName.length + 1);
        return res;
      });
      pending.push(answer);
      return answer;
    },
  });
  await page.settle();
  return page;
}

// Login CSRF: a link that someone else requested, opened in this browser, must not sign this
// browser into their account without the person seeing whose account it is.
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

  it('the /signin page shows whose account the link opens and signs in only when the button is clicked', async () => {
    const email = await user('browser');
    const token = await link(email);
    const page = await openPage(h, token);

    // Opened: only the non-consuming inspect ran; the question and the button are shown.
    expect(page.calls).toEqual(['signin/inspect']);
    expect(page.el('account').textContent).toBe(email);
    expect(page.el('confirm').hidden).toBe(false);
    expect(page.el('request').hidden).toBe(true);
    expect(page.html).toMatch(/<p>Sign in to KRE as <strong id="account"><\/strong>\?<\/p>/);
    expect(page.html).toContain('<button type="button" id="signin">Sign in</button>');
    expect(page.cookie()).toBeUndefined();
    // The link is intact: the person can still decide either way.
    expect((await inspect(token)).status).toBe(200);

    page.el('signin').dispatch('click');
    await page.settle();
    expect(page.calls).toEqual(['signin/inspect', 'signin/verify']);
    expect(page.el('status').dataset.result).toBe('ok');
    expect(page.el('status').textContent).toBe(`You are signed in as ${email}.`);
    expect(page.el('confirm').hidden).toBe(true);
    const me = await h.gql('{ me { email } }', {}, { session: page.cookie() });
    expect(me.data).toEqual({ me: { email } });
  });

  it('the /signin page with an unusable link says so and offers a new link, without calling verify', async () => {
    const page = await openPage(h, randomBytes(32).toString('base64url'));
    expect(page.calls).toEqual(['signin/inspect']);
    expect(page.el('status').dataset.result).toBe('failed');
    expect(page.el('status').textContent).toBe(`Sign-in failed: ${INVALID.message}.`);
    expect(page.el('confirm').hidden).toBe(true);
    expect(page.el('request').hidden).toBe(false);
    expect(page.cookie()).toBeUndefined();
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
