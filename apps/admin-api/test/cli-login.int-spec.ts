import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliLoginService } from '../src/cli-login/cli-login.service.js';
import { Harness } from './harness.js';

interface Grant {
  deviceCode: string;
  userCode: string;
  expiresAt: string;
  interval: number;
}

/**
 * `kre login --email` approved in a browser, at the API (the CLI's own flow is e2e/cli.e2e-spec):
 * one approval wins of two at once, the session is handed out once, wrong codes end a grant, polls
 * are paced, an unknown address gets the same answer and no mail, and Redis holds no secret.
 */
describe('cli-login grants', () => {
  let h: Harness;
  let admin: string;
  let redis: Redis;
  beforeAll(async () => {
    h = await Harness.start();
    admin = await h.signIn(h.adminEmail);
    redis = new Redis(h.env.REDIS_URL);
  });
  afterAll(async () => {
    redis.disconnect();
    await h.close();
  });

  /** Starts a grant and waits until its mail (if any) has been handled. */
  const start = async (email: string): Promise<Grant> => {
    const answer = await h.post('/api/v1/cli-login', { email });
    expect(answer.status).toBe(201);
    await h.get(CliLoginService).idle();
    return (await answer.json()) as Grant;
  };
  const linkOf = async (email: string): Promise<string> => {
    const mail = await h.nextMail(email);
    const match = /\/cli-login\?token=([A-Za-z0-9_-]{43})/.exec(mail.Text);
    if (!match) throw new Error(`no approval link in the mail:\n${mail.Text}`);
    return match[1];
  };
  const submit = (fields: Record<string, string>) =>
    fetch(`${h.url}/cli-login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  const poll = (deviceCode: string) => h.post('/api/v1/cli-login/poll', { deviceCode });

  it('of two approvals at once exactly one wins; the session is handed out once and works', async () => {
    const { email } = await h.createUser('approver', 'USER', admin);
    const grant = await start(email);
    expect(grant.userCode).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
    expect(grant.interval).toBe(2);
    // The mail says what it approves (not the browser sign-in's wording) and that the code is needed.
    const mail = await h.nextMail(email);
    expect(mail.Subject).toBe('Approve the kre command-line sign-in');
    expect(mail.Text).toContain(`kre login --email, from `);
    expect(mail.Text).toContain(`asks to sign in to KRE as ${email}`);
    expect(mail.Text).toContain("Nothing is approved without the terminal's code.");
    const token = /\/cli-login\?token=([A-Za-z0-9_-]{43})/.exec(mail.Text)?.[1] ?? '';
    expect(token).not.toBe('');

    const answers = await Promise.all([
      submit({ token, code: grant.userCode }),
      submit({ token, code: grant.userCode }),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 410]);

    const first = await poll(grant.deviceCode);
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    const approved = (await first.json()) as { status: string; cookie: string };
    expect(approved).toMatchObject({ status: 'approved', user: { email } });
    const session = approved.cookie.slice(approved.cookie.indexOf('=') + 1);
    const me = await h.gql('{ me { email } }', {}, { session });
    expect(me.data).toEqual({ me: { email } });

    const second = await poll(grant.deviceCode);
    expect(second.status).toBe(400);
    expect(await second.json()).toMatchObject({ code: 'INVALID_OR_EXPIRED_LINK' });
  });

  it("a link superseded by a newer one approves nothing, and the account's signed-in browser still can", async () => {
    const { email } = await h.createUser('superseded', 'USER', admin);
    const grant = await start(email);
    const token = await linkOf(email);
    const session = await h.signIn(email); // a newer link: the grant's stops working
    expect((await submit({ token, code: grant.userCode })).status).toBe(410);
    const approve = await h.post(
      '/api/v1/cli-login/approve',
      { userCode: grant.userCode.toLowerCase() },
      { cookie: `${h.cookieName}=${session}` },
    );
    expect(approve.status).toBe(200);
    expect(await (await poll(grant.deviceCode)).json()).toMatchObject({
      status: 'approved',
      user: { email },
    });
  });

  it('five wrong codes deny the grant: the poll says so once, and the right code no longer works', async () => {
    const { email } = await h.createUser('guessed', 'USER', admin);
    const grant = await start(email);
    const token = await linkOf(email);
    const wrong = grant.userCode === 'BCDF-GHJK' ? 'ZXWV-TSRQ' : 'BCDF-GHJK';
    for (let left = 4; left >= 1; left--) {
      const answer = await submit({ token, code: wrong });
      expect(answer.status).toBe(400);
      expect(await answer.text()).toContain(`(${left} more ${left === 1 ? 'try' : 'tries'})`);
    }
    expect((await submit({ token, code: wrong })).status).toBe(403);
    expect((await submit({ token, code: grant.userCode })).status).toBe(410);

    const denied = await poll(grant.deviceCode);
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ code: 'FORBIDDEN', reason: 'DENIED' });
    expect((await poll(grant.deviceCode)).status).toBe(400);
  });

  it('paces polls (429 SLOW_DOWN), answers an unknown address alike and mails it nothing, and keeps no secret in Redis', async () => {
    const stranger = h.email('stranger');
    const before = await h.mailCount(stranger);
    const grant = await start(stranger);
    expect(Object.keys(grant).sort()).toEqual(['deviceCode', 'expiresAt', 'interval', 'userCode']);
    expect(await h.mailCount(stranger)).toBe(before);

    expect(await (await poll(grant.deviceCode)).json()).toMatchObject({ status: 'pending' });
    const fast = await poll(grant.deviceCode);
    expect(fast.status).toBe(429);
    expect(await fast.json()).toMatchObject({ code: 'SLOW_DOWN' });

    const { email } = await h.createUser('sealed', 'USER', admin);
    const approved = await start(email);
    const token = await linkOf(email);
    expect((await submit({ token, code: approved.userCode })).status).toBe(200);
    const keys = await redis.keys(`${h.env.KRE_PREFIX}:cli-login:*`);
    expect(keys.some((k) => k.includes(':session:'))).toBe(true);
    const stored = (await Promise.all(keys.map((k) => redis.get(k)))).join('\n') + keys.join('\n');
    expect(stored).not.toContain(approved.deviceCode);
    expect(stored).not.toContain(token);
    const answer = (await (await poll(approved.deviceCode)).json()) as { cookie: string };
    expect(stored).not.toContain(answer.cookie.slice(answer.cookie.indexOf('=') + 1));
  });
});
