import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import { Names } from '@libs/naming';
import { ObsRetentionStore, isExpiredDay, parseDayCollection } from '@libs/observability';
import type { Connection } from 'mongoose';

export interface ObsRetentionOptions {
  /** Days kept for a runtime that has not set its own (`OBS_RETENTION_DAYS`). */
  readonly defaultDays: number;
  /** Pause between two sweeps (the first runs at start). */
  readonly checkMs: number;
}

export const OBS_RETENTION_OPTIONS = Symbol('OBS_RETENTION_OPTIONS');

const RUNTIME_ID = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** A day collection a sweep dropped. */
export interface DroppedDay {
  runtimeId: string;
  collection: string;
}

/**
 * Retention of the observability records: at start and then every `checkMs`, drops each
 * runtime's day collections (`<kind>_YYYY_MM_DD` in `<p>_<rt>`) whose whole day is older than
 * the runtime's retention (its ADMIN's setting in `obsRetention`, else the installation's
 * default). Whole collections, because FerretDB has no TTL index and a drop is cheap on both
 * databases. The runtimes are the databases named `<p>_<rt>` (a runtime's `_data` database and
 * every other collection are never touched). A failed sweep is logged and tried again next time.
 */
@Injectable()
export class ObsRetentionService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ObsRetentionService.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;

  constructor(
    @InjectConnection() private readonly connection: Connection,
    private readonly names: Names,
    @Inject(OBS_RETENTION_OPTIONS) private readonly options: ObsRetentionOptions,
  ) {}

  onApplicationBootstrap(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.sweep()
        .catch((error: unknown) =>
          this.logger.warn(`retention sweep failed (tried again later): ${String(error)}`),
        )
        .finally(() => this.schedule(this.options.checkMs));
    }, ms);
    this.timer.unref();
  }

  /** Drops every runtime's expired day collections as of `now`; says which. */
  async sweep(now = new Date()): Promise<DroppedDay[]> {
    const client = this.connection.getClient();
    const own = await new ObsRetentionStore(client.db(this.names.platformDb())).all();
    const { databases } = await client.db().admin().listDatabases({ nameOnly: true });
    const dropped: DroppedDay[] = [];
    for (const { name } of databases) {
      const runtimeId = this.runtimeOf(name);
      if (!runtimeId) continue;
      const days = own.get(runtimeId) ?? this.options.defaultDays;
      const db = client.db(name);
      for (const { name: collection } of await db
        .listCollections({}, { nameOnly: true })
        .toArray()) {
        const day = parseDayCollection(collection)?.day;
        if (!day || !isExpiredDay(day, days, now)) continue;
        await db.dropCollection(collection).catch((error: unknown) => {
          // Gone already (another replica's sweep): what was wanted.
          if (!/not found|ns not found/i.test(String(error))) throw error;
        });
        dropped.push({ runtimeId, collection });
      }
    }
    if (dropped.length)
      this.logger.log(
        `retention dropped ${dropped.length} day collections: ${dropped
          .map((d) => `${d.runtimeId}/${d.collection}`)
          .join(', ')}`,
      );
    return dropped;
  }

  /** The runtime of a database named `<p>_<rt>`, else undefined (`<p>_<rt>_data`, others). */
  private runtimeOf(database: string): string | undefined {
    const head = `${this.names.prefix}_`;
    if (!database.startsWith(head)) return undefined;
    const rest = database.slice(head.length);
    return RUNTIME_ID.test(rest) && database === this.names.runtimeDb(rest) ? rest : undefined;
  }
}
