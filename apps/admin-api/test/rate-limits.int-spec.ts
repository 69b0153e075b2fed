import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signInLinkCommand } from '../src/cli/signin-link.command.js';
import { Harness } from './harness.js';

const TOO_MANY = {
  code: 'TOO_MANY_REQUESTS',
  message: 'too many requests: wait as long as the Retry-After header says, then try again',
};

// Reliability row A8: brute force and flooding. Redis-backed limits per address and client, per
// address from all clients, per client. Behind one trusted proxy, the client is the address in
// X-Forwarded-For: each test speaks as its own clients.
describe('sign-in rate limits', () => {
  let h: Harness;
  let admin: string;
  beforeAll(async () => {
    h = await Harness.start({
      TRUST_PROXY_HOPS: '1',
      THROTTLE_SIGNIN_PER_EMAIL: '3/1h',
      THROTTLE_SIGNIN_PER_EMAIL_ALL_CLIENTS: '6/1h',
      THROTTLE_SIGNIN_PER_IP: '8/1h',
      THROTTLE_VERIFY_PER_IP: '5/1m',
    });
    admin = await h.signIn(h.adminEmail);
  });
  afterAll(() => h.close());

  /** A new user's address (created by the admin: no link requested yet). */
  const user = async (name: string) => (await h.createUser(name, 'USER', admin)).email;

  const from = (client: string) => ({ 'x-forwarded-for': client });
  const statuses = async (email: string, client: string, times: number) => {
    const answers: number[] = [];
    for (let i = 0; i < times; i++) answers.push((await h.requestLink(email, from(client))).status);
    return answers;
  };

  it('A8: limits link requests per address and client, with the same 429 for known and unknown addresses', async () => {
    const answers: Record<string, { status: number; retryAfter: string | null; body: unknown }[]> =
      {};
    const known = await user('known');
    for (const email of [known, h.email('unknown')]) {
      answers[email] = [];
      for (let i = 0; i < 4; i++) {
        const response = await h.requestLink(email, from('192.0.2.1'));
        answers[email].push({
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          body: await response.json(),
        });
      }
    }
    const [knownAnswers, unknownAnswers] = Object.values(answers);
    expect(knownAnswers.map((a) => a.status)).toEqual([202, 202, 202, 429]);
    expect(unknownAnswers).toEqual(knownAnswers);
    expect(Number(knownAnswers[3].retryAfter)).toBeGreaterThan(0);
    expect(knownAnswers[3].body).toEqual(TOO_MANY);
    expect(await h.mailCount(known)).toBe(3);
  });

  it('A8: one client asking for links to an address cannot lock its owner out', async () => {
    const victim = await user('victim');
    expect(await statuses(victim, '198.51.100.66', 5)).toEqual([202, 202, 202, 429, 429]);
    // The person, from their own client, still gets a link (the 4th mail), and it signs them in.
    expect(await statuses(victim, '203.0.113.10', 1)).toEqual([202]);
    let token = '';
    for (let mail = 1; mail <= 4; mail++) token = await h.nextLinkToken(victim);
    expect((await h.verify(token, from('203.0.113.10'))).status).toBe(200);
  });

  it('A8: the mail one address receives stays bounded across clients', async () => {
    const known = await user('bombed');
    const answers: number[] = [];
    for (let client = 1; client <= 8; client++) {
      answers.push(...(await statuses(known, `198.18.0.${client}`, 1)));
    }
    expect(answers).toEqual([202, 202, 202, 202, 202, 202, 429, 429]);
    expect(await h.mailCount(known)).toBe(6);
  });

  it('A8: limits link requests per client across addresses', async () => {
    const answers: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 10; i++) {
      const response = await h.requestLink(h.email(`fresh${i}`), from('192.0.2.99'));
      answers.push(response.status);
      retryAfter ??= response.headers.get('retry-after');
    }
    expect(answers).toEqual([202, 202, 202, 202, 202, 202, 202, 202, 429, 429]);
    expect(retryAfter).toMatch(/^\d+$/);
  });

  it('A8: random tokens against verify from one client: 429 after the limit, and none is accepted', async () => {
    const answers: number[] = [];
    for (let i = 0; i < 20; i++) {
      answers.push(
        (await h.verify(randomBytes(32).toString('base64url'), from('192.0.2.77'))).status,
      );
    }
    expect(answers.slice(0, 5)).toEqual([400, 400, 400, 400, 400]);
    expect(new Set(answers.slice(5))).toEqual(new Set([429]));
  });

  it('signin-link: the operator mints a working link on the server while the address is rate-limited, without mail', async () => {
    const locked = await user('locked');
    for (let client = 1; client <= 7; client++) await statuses(locked, `198.18.1.${client}`, 1);
    expect(await statuses(locked, '198.18.1.200', 1)).toEqual([429]);
    const mails = await h.mailCount(locked);

    let out = '';
    let err = '';
    const code = await signInLinkCommand(h.env, [locked], {
      out: { write: (text: string) => (out += text) },
      err: { write: (text: string) => (err += text) },
    });
    expect(code).toBe(0);
    const link = new RegExp(`^${h.url}/signin#([A-Za-z0-9_-]{43})\\n$`).exec(out);
    expect(link, `stdout: ${out}\nstderr: ${err}`).not.toBeNull();
    expect(err).toContain(`Sign-in link for ${locked}: it works once`);
    expect(await h.mailCount(locked)).toBe(mails);

    const verified = await h.verify(link![1], from('198.18.1.200'));
    expect(verified.status).toBe(200);
    const me = await h.gql('{ me { email } }', {}, { session: h.sessionFrom(verified) });
    expect(me.data).toEqual({ me: { email: locked } });
    const audit = await h
      .connection()
      .db!.collection('user_activity')
      .findOne({ type: 'SIGN_IN_LINK_SENT', userEmail: locked, 'vars.key': 'VIA' });
    expect(audit?.vars).toEqual([{ key: 'VIA', value: 'signin-link command' }]);
  });

  it('signin-link: refuses an address that may not sign in, and bad usage', async () => {
    let err = '';
    const output = { out: { write: () => undefined }, err: { write: (t: string) => (err += t) } };
    expect(await signInLinkCommand(h.env, ['nobody@elsewhere.example'], output)).toBe(1);
    expect(err).toContain('"nobody@elsewhere.example" may not sign in');
    expect(await signInLinkCommand(h.env, [], output)).toBe(64);
    expect(await signInLinkCommand(h.env, ['not-an-address'], output)).toBe(64);
    expect(err).toContain('usage: node dist/apps/admin-api/src/main.js signin-link <email>');
  });
});

// Without a trusted proxy, X-Forwarded-For names nothing: a client cannot pose as new clients.
describe('sign-in rate limits without a trusted proxy', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({
      TRUST_PROXY_HOPS: '0',
      THROTTLE_SIGNIN_PER_EMAIL: '3/1h',
      THROTTLE_SIGNIN_PER_EMAIL_ALL_CLIENTS: '30/1h',
      THROTTLE_SIGNIN_PER_IP: '100/1h',
    });
  });
  afterAll(() => h.close());

  it('A8: a forged X-Forwarded-For does not escape the per address and client limit', async () => {
    const email = h.email('forged');
    const answers: number[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await h.requestLink(email, { 'x-forwarded-for': `192.0.2.${i}` });
      answers.push(response.status);
    }
    expect(answers).toEqual([202, 202, 202, 429]);
  });
});
