import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';

/** Takes the lease when free, renews it when this process holds it; 1 when it holds it now. */
const HOLD = `if redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0`;

/** Deletes the lease if this process holds it (another holder's is never touched). */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0`;

/**
 * Leases in Redis for work that one replica of an app does for all (the deployer's samplers:
 * replica resources, node autoscaling). `holds(name, ttlMs)` takes the lease when it is free or
 * renews it when this process holds it, and says whether this process holds it now; a holder
 * that stops asking (stopped, crashed, cut from Redis) loses it after `ttlMs`, and the next
 * replica to ask takes it. Sticky, unlike taking turns: a sampler that keeps history (the
 * autoscaler's backlog samples and cool-down) sees every sample while it holds the lease.
 */
export class LeaderLease implements OnApplicationShutdown {
  /** This process, as the holder written in Redis. */
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly held = new Set<string>();

  constructor(
    private readonly redis: Redis,
    /** The installation prefix (`KRE_PREFIX`): keys are `<p>:lease:<name>`. */
    private readonly prefix: string,
  ) {}

  static connect(redisUrl: string, prefix: string): LeaderLease {
    // Connects on first use (apps that never sample never connect). A bounded retry: with Redis
    // down a sampler skips its round instead of hanging.
    return new LeaderLease(
      new Redis(redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true }),
      prefix,
    );
  }

  async holds(name: string, ttlMs: number): Promise<boolean> {
    const mine = (await this.redis.eval(HOLD, 1, this.key(name), this.owner, ttlMs)) === 1;
    if (mine) this.held.add(name);
    else this.held.delete(name);
    return mine;
  }

  /** Gives the lease up at once if this process holds it, for the next replica. */
  async release(name: string): Promise<void> {
    this.held.delete(name);
    await this.redis.eval(RELEASE, 1, this.key(name), this.owner);
  }

  /** At shutdown: the leases this process holds go to the next replica at once. */
  async onApplicationShutdown(): Promise<void> {
    try {
      for (const name of [...this.held]) await this.release(name);
    } catch {
      // Redis gone: the leases expire on their own.
    }
    this.redis.disconnect();
  }

  private key(name: string): string {
    return `${this.prefix}:lease:${name}`;
  }
}
