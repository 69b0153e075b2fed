import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { InvocationKeysBucket, NATS_CONNECTION, type RuntimeInvocationKeys } from '@libs/messaging';
import { Names } from '@libs/naming';
import {
  InvocationKeysRepository,
  RuntimesRepository,
  requiresInvocationKey,
} from '@libs/persistence';

/**
 * Keeps the gateways' copy (KV bucket `<p>_invocation_keys`, one entry per runtime) in step
 * with the database: after every change (`changed`), and from scratch at start (`reconcile`),
 * so an update lost while NATS was away heals at the next start. Entries carry the runtime's
 * generation: of two admin-api replicas publishing at once, the newer state wins.
 */
@Injectable()
export class InvocationKeysPublisher implements OnApplicationBootstrap {
  private readonly logger = new Logger(InvocationKeysPublisher.name);
  private bucket?: Promise<InvocationKeysBucket>;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    private readonly names: Names,
    private readonly runtimes: RuntimesRepository,
    private readonly keys: InvocationKeysRepository,
  ) {}

  private open(): Promise<InvocationKeysBucket> {
    this.bucket ??= InvocationKeysBucket.open(this.nc, this.names).catch((error: unknown) => {
      this.bucket = undefined; // try again next time
      throw error;
    });
    return this.bucket;
  }

  async onApplicationBootstrap(): Promise<void> {
    try {
      const { published, removed } = await this.reconcile();
      this.logger.log(
        `invocation keys published for ${published} runtime(s) (${removed} stale entr${removed === 1 ? 'y' : 'ies'} removed)`,
      );
    } catch (error) {
      // The API still serves; gateways keep their last copy until the next start or change.
      this.logger.error(`invocation keys not reconciled: ${String(error)}`);
    }
  }

  /**
   * Publishes the runtime's current keys and flag after a change (call it once the change is
   * stored). A runtime that no longer exists loses its entry.
   */
  async changed(runtimeId: string): Promise<void> {
    const generation = await this.runtimes.bumpInvocationKeysGeneration(runtimeId);
    const bucket = await this.open();
    if (generation === null) return bucket.remove(runtimeId);
    const entry = await this.entry(runtimeId, generation);
    if (entry) await bucket.put(runtimeId, entry);
  }

  /** Every runtime's entry from the database; entries of runtimes that are gone are removed. */
  async reconcile(): Promise<{ published: number; removed: number }> {
    const bucket = await this.open();
    const runtimes = await this.runtimes.list();
    let published = 0;
    for (const runtime of runtimes) {
      const entry = await this.entry(runtime._id, runtime.invocationKeysGeneration ?? 0);
      if (entry && (await bucket.put(runtime._id, entry))) published++;
    }
    const known = new Set(runtimes.map((r) => r._id));
    let removed = 0;
    for (const id of await bucket.runtimeIds()) {
      if (known.has(id)) continue;
      await bucket.remove(id);
      removed++;
    }
    return { published, removed };
  }

  private async entry(
    runtimeId: string,
    generation: number,
  ): Promise<RuntimeInvocationKeys | null> {
    const runtime = await this.runtimes.find(runtimeId);
    if (!runtime) return null;
    const keys = await this.keys.listUsable(runtimeId);
    return {
      incarnation: runtime.createdAt.toISOString(),
      generation,
      requireKey: requiresInvocationKey(runtime),
      keys: keys.map((k) => ({
        id: k._id,
        hash: k.hash,
        expiresAt: k.expiresAt ? k.expiresAt.toISOString() : null,
      })),
    };
  }
}
