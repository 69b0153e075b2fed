import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './harness.js';

// Reliability row A8: brute force and flooding. Redis-backed limits, per address and per IP.
describe('sign-in rate limits', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({
      THROTTLE_SIGNIN_PER_EMAIL: '3/1h',
      THROTTLE_SIGNIN_PER_IP: '8/1h',
      THROTTLE_VERIFY_PER_IP: '5/1m',
    });
  });
  afterAll(() => h.close());

  it('A8: limits link requests per address with the same 429 for known and unknown addresses', async () => {
    const answers: Record<string, { status: number; retryAfter: string | null; body: unknown }[]> =
      {};
    for (const email of [h.adminEmail, h.email('unknown')]) {
      answers[email] = [];
      for (let i = 0; i < 4; i++) {
        const response = await h.requestLink(email);
        answers[email].push({
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          body: await response.json(),
        });
      }
    }
    const [known, unknown] = Object.values(answers);
    expect(known.map((a) => a.status)).toEqual([202, 202, 202, 429]);
    expect(unknown).toEqual(known);
    expect(Number(known[3].retryAfter)).toBeGreaterThan(0);
    expect(known[3].body).toEqual({
      code: 'TOO_MANY_REQUESTS',
      message: 'too many requests: wait as long as the Retry-After header says, then try again',
    });
    expect(await h.mailCount(h.adminEmail)).toBe(3);
  });

  it('A8: limits link requests per IP across addresses', async () => {
    // 6 were accepted above; of 8 requests for fresh addresses, only 2 more are.
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 8; i++) {
      const response = await h.requestLink(h.email(`fresh${i}`));
      statuses.push(response.status);
      retryAfter ??= response.headers.get('retry-after');
    }
    expect(statuses).toEqual([202, 202, 429, 429, 429, 429, 429, 429]);
    expect(retryAfter).toMatch(/^\d+$/);
  });

  it('A8: random tokens against verify from one IP: 429 after the limit, and none is accepted', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      statuses.push((await h.verify(randomBytes(32).toString('base64url'))).status);
    }
    expect(statuses.slice(0, 5)).toEqual([400, 400, 400, 400, 400]);
    expect(new Set(statuses.slice(5))).toEqual(new Set([429]));
  });
});
