import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis } from './services.js';

describe('Redis as the dev stack and the tests run it', () => {
  let dir: string;
  let redis: Awaited<ReturnType<typeof startRedis>>;
  const clients: Redis[] = [];
  const client = (url: string) => {
    const c = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    c.on('error', () => undefined); // each test asserts the refusals it expects
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kre-redis-'));
    redis = await startRedis(dir);
  });
  afterAll(async () => {
    clients.forEach((c) => c.disconnect());
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a client without the password, and serves one with it', async () => {
    const anonymous = client(`redis://127.0.0.1:${redis.port}`);
    await expect(anonymous.set('k', 'v')).rejects.toThrow(/NOAUTH/);
    const wrong = client(`redis://:wrong@127.0.0.1:${redis.port}`);
    const refusals: string[] = [];
    wrong.on('error', (error: Error) => refusals.push(error.message));
    await expect(wrong.set('k', 'v')).rejects.toThrow();
    expect(refusals.join('\n')).toMatch(/WRONGPASS/);
    const allowed = client(redis.url);
    expect(await allowed.set('k', 'v')).toBe('OK');
    expect(await allowed.get('k')).toBe('v');
  });

  it('keeps the password across a restart on the same folder, and no command line shows it', async () => {
    const password = new URL(redis.url).password;
    await redis.stop();
    redis = await startRedis(dir, redis.port);
    expect(new URL(redis.url).password).toBe(password);
    for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      expect(cmdline).not.toContain(password);
    }
    expect(await client(redis.url).ping()).toBe('PONG');
  });
});
