import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { CLOCK, type Clock } from '@libs/core';
import { NATS_CONNECTION, invocationKeyUsedSchema } from '@libs/messaging';
import { Names } from '@libs/naming';
import { InvocationKeysRepository } from '@libs/persistence';

/** A key's `lastUsedAt` is written at most this often. */
export const LAST_USED_GAP_MS = 60_000;

/**
 * Records the gateways' reports that a key was used (`<p>.svc.gateway.key-used`) as the key's
 * `lastUsedAt`, at most once a minute per key. One admin-api replica takes each report (queue
 * group); a report names a runtime and a key of it, so a wrong pair updates nothing.
 */
@Injectable()
export class InvocationKeyUsageConsumer
  implements OnApplicationBootstrap, BeforeApplicationShutdown
{
  private readonly logger = new Logger(InvocationKeyUsageConsumer.name);
  private subscription?: Subscription;
  private pending = new Set<Promise<void>>();

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    private readonly names: Names,
    private readonly keys: InvocationKeysRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  onApplicationBootstrap(): void {
    this.subscription = this.nc.subscribe(this.names.invocationKeyUsedSubject(), {
      queue: 'admin-api',
      callback: (error, msg) => {
        if (error) return;
        let report;
        try {
          report = invocationKeyUsedSchema.parse(msg.json());
        } catch {
          return this.logger.warn('ignored a malformed key-used report');
        }
        // Never in the future: a gateway's clock may run ahead of ours.
        const now = this.clock.now();
        const at = new Date(Math.min(new Date(report.at).getTime(), now.getTime()));
        const work = this.keys
          .touch(report.runtimeId, report.keyId, at, LAST_USED_GAP_MS)
          .then(() => undefined)
          .catch((e: unknown) => this.logger.warn(`lastUsedAt not recorded: ${String(e)}`))
          .finally(() => this.pending.delete(work));
        this.pending.add(work);
      },
    });
  }

  /** Settles the writes under way (tests and shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (!this.nc.isClosed()) this.subscription?.unsubscribe();
    await this.idle();
  }
}
