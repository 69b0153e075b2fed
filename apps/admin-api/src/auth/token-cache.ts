import { Injectable } from '@nestjs/common';
import type { Principal } from './principal.js';
import type { Revocation } from './revocation.js';

/** Under the 5 s that reliability.md allows; revocations also evict at once (below). */
const TTL_MS = 4_000;
const MAX_ENTRIES = 10_000;

export interface CachedToken {
  principal: Principal;
  expiresAt: Date;
  lastUsedAt?: Date;
}

/**
 * Verified API tokens, kept a few seconds so a program's burst of calls does not cost two
 * database lookups each. Revocations (token deleted, user removed or re-roled) evict entries
 * before the mutation answers on this replica and as soon as the NATS broadcast arrives on the
 * others; expiry is checked on every use; the TTL bounds what a lost broadcast can leave behind.
 */
@Injectable()
export class TokenCache {
  private readonly entries = new Map<string, CachedToken & { fetchedAt: number }>();
  /** Bumped by every eviction: a lookup that raced one does not cache its (stale) answer. */
  private generation = 0;

  /** Call before the database lookup; pass the value to `set`. */
  mark(): number {
    return this.generation;
  }

  get(hash: string): CachedToken | undefined {
    const entry = this.entries.get(hash);
    if (!entry) return undefined;
    if (performance.now() - entry.fetchedAt > TTL_MS) {
      this.entries.delete(hash);
      return undefined;
    }
    return entry;
  }

  set(hash: string, token: CachedToken, mark: number): void {
    if (mark !== this.generation) return;
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    // The same object: the caller's later updates (lastUsedAt) reach the cached entry.
    this.entries.set(hash, Object.assign(token, { fetchedAt: performance.now() }));
  }

  evict(revocation: Revocation): void {
    this.generation++;
    for (const [hash, entry] of this.entries) {
      if (
        revocation.credentialHashes?.includes(hash) ||
        (revocation.userIds?.includes(entry.principal.id) && revocation.via !== 'session')
      ) {
        this.entries.delete(hash);
      }
    }
  }
}
