import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { KV } from '@nats-io/kv';
import {
  INVOCATION_KEY_LENGTH,
  INVOCATION_KEY_PREFIX,
  runtimeInvocationKeysSchema,
} from '@libs/messaging';
import { type KvOperation, followKv } from './kv-follower.js';

/** One runtime's entry, precomputed for the hot path: a Map from key hash to key. */
interface RuntimeKeys {
  requireKey: boolean;
  byHash: Map<string, { id: string; expiresAtMs: number }>;
}

/** The outcome of checking a call's key against its runtime. */
export type KeyCheck =
  /** Admitted: `keyId` is the key it carried (absent when the runtime needs none). */
  | { outcome: 'ok'; keyId?: string }
  /** Refused: the message says why and what to do (401 / UNAUTHENTICATED). */
  | { outcome: 'refused'; message: string }
  /** This gateway has no entry for the runtime: refused too, once the route is known to exist. */
  | { outcome: 'unknown-runtime' };

/** `Authorization: Bearer <key>` or `x-api-key: <key>` (HTTP headers and gRPC metadata alike). */
export function presentedKey(
  authorization: string | undefined,
  apiKey: string | undefined,
): string | undefined {
  if (apiKey) return apiKey.trim();
  if (authorization && /^bearer /i.test(authorization)) return authorization.slice(7).trim();
  return undefined;
}

/**
 * A live copy of the KV bucket `<p>_invocation_keys` (admin-api writes one entry per runtime):
 * whether the runtime needs a key, and the SHA-256 of each of its keys that is not revoked.
 * Checking a call costs one SHA-256 and two Map lookups; expiry is checked on every call.
 */
export class InvocationKeysTable {
  private readonly logger = new Logger(InvocationKeysTable.name);
  private readonly runtimes = new Map<string, RuntimeKeys>();
  private initialized = false;
  private stopped = false;
  private stopWatch?: () => void;

  get ready(): boolean {
    return this.initialized;
  }

  /** Loads the bucket and follows its changes until `stop()`. Resolves once loaded. */
  async start(kv: KV): Promise<void> {
    this.stopWatch = await followKv(kv, (key, operation, value) =>
      this.apply(key, operation, value),
    );
    this.initialized = true;
    this.logger.log(`invocation keys loaded for ${this.runtimes.size} runtime(s)`);
  }

  /**
   * Opens the bucket with `open` and follows it; while that fails (admin-api has not created
   * the bucket yet) tries again every `retryMs` until `stop()`. `firstAttempt` says whether the
   * first try loaded it; meanwhile every runtime is closed (fail closed) and `ready` is false.
   */
  follow(
    open: () => Promise<KV>,
    retryMs = 1_000,
  ): { firstAttempt: Promise<boolean>; loaded: Promise<void> } {
    let reportFirst: (loaded: boolean) => void = () => undefined;
    const firstAttempt = new Promise<boolean>((resolve) => (reportFirst = resolve));
    const loaded = (async () => {
      for (let attempt = 0; !this.stopped; attempt++) {
        try {
          await this.start(await open());
          reportFirst(true);
          return;
        } catch (error) {
          reportFirst(false);
          if (attempt === 0)
            this.logger.warn(
              `invocation keys not readable yet (${String(error)}): every runtime is closed until they are; trying again every ${retryMs} ms`,
            );
          await new Promise((r) => setTimeout(r, retryMs));
        }
      }
    })();
    return { firstAttempt, loaded };
  }

  stop(): void {
    this.stopped = true;
    this.stopWatch?.();
  }

  /** Applies one entry of the bucket (exported for the benchmark and tests). */
  apply(runtimeId: string, operation: KvOperation, value: string): void {
    if (operation !== 'PUT') {
      this.runtimes.delete(runtimeId);
      return;
    }
    let parsed;
    try {
      parsed = runtimeInvocationKeysSchema.safeParse(JSON.parse(value));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) {
      // Fail closed: a runtime whose entry cannot be read accepts no call.
      this.runtimes.delete(runtimeId);
      this.logger.warn(`invocation keys of runtime ${runtimeId} ignored: not a valid entry`);
      return;
    }
    const byHash = new Map<string, { id: string; expiresAtMs: number }>();
    for (const key of parsed.data.keys) {
      byHash.set(key.hash, {
        id: key.id,
        expiresAtMs: key.expiresAt ? Date.parse(key.expiresAt) : Number.POSITIVE_INFINITY,
      });
    }
    this.runtimes.set(runtimeId, { requireKey: parsed.data.requireKey, byHash });
  }

  /** Whether a call to `runtimeId` carrying `key` (or none) may go on, at `nowMs`. */
  check(runtimeId: string, key: string | undefined, nowMs: number): KeyCheck {
    const runtime = this.runtimes.get(runtimeId);
    if (!runtime) return { outcome: 'unknown-runtime' };
    if (!runtime.requireKey) return { outcome: 'ok' };
    if (!key) {
      return {
        outcome: 'refused',
        message: `runtime "${runtimeId}" needs an invocation key: send "Authorization: Bearer <key>" or "x-api-key: <key>" (a runtime ADMIN creates one with createInvocationKey)`,
      };
    }
    const found =
      key.length === INVOCATION_KEY_LENGTH && key.startsWith(INVOCATION_KEY_PREFIX)
        ? runtime.byHash.get(createHash('sha256').update(key).digest('hex'))
        : undefined;
    if (!found) {
      return {
        outcome: 'refused',
        message: `the invocation key is not valid for runtime "${runtimeId}" (unknown, revoked, or another runtime's)`,
      };
    }
    if (nowMs >= found.expiresAtMs) {
      return {
        outcome: 'refused',
        message: `the invocation key expired at ${new Date(found.expiresAtMs).toISOString()}: ask a runtime ADMIN for a new one`,
      };
    }
    return { outcome: 'ok', keyId: found.id };
  }
}
