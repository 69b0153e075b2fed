import { randomBytes } from 'node:crypto';
import { testEnv } from '@libs/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { LeaderLease } from './leader-lease.js';

describe('LeaderLease on the test Redis', () => {
  const env = testEnv();
  const leases: LeaderLease[] = [];
  const replica = () => {
    const lease = LeaderLease.connect(env.REDIS_URL, env.KRE_PREFIX);
    leases.push(lease);
    return lease;
  };
  afterAll(async () => {
    for (const lease of leases) await lease.onApplicationShutdown();
  });

  it('one replica holds it and keeps it while it asks; the others do not', async () => {
    const name = `sampler-${randomBytes(4).toString('hex')}`;
    const [a, b] = [replica(), replica()];
    expect(await a.holds(name, 10_000)).toBe(true);
    expect(await b.holds(name, 10_000)).toBe(false);
    expect(await a.holds(name, 10_000)).toBe(true); // renewed, still a's
    expect(await b.holds(name, 10_000)).toBe(false);
  });

  it('passes to another replica when its holder gives it up or stops asking', async () => {
    const name = `sampler-${randomBytes(4).toString('hex')}`;
    const [a, b, c] = [replica(), replica(), replica()];
    expect(await a.holds(name, 10_000)).toBe(true);
    await b.release(name); // not b's: a keeps it
    expect(await b.holds(name, 10_000)).toBe(false);
    await a.onApplicationShutdown(); // a stops: the lease is free at once
    expect(await b.holds(name, 300)).toBe(true);
    // b stops asking (a crash): after its ttl the next replica to ask takes it.
    await expect.poll(() => c.holds(name, 10_000), { timeout: 5_000, interval: 50 }).toBe(true);
    expect(await b.holds(name, 300)).toBe(false);
  });
});
