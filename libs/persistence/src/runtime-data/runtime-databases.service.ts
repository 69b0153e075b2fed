import { Injectable } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import { Names } from '@libs/naming';
import { ObsRetentionStore } from '@libs/observability';
import type { Connection } from 'mongoose';

/**
 * A runtime's two databases (`<p>_<rt>`: logs, metrics, predictions, measurements;
 * `<p>_<rt>_data`: what user code stores), made when the runtime is provisioned and dropped
 * with it. The one list of them is `databasesOf`.
 */
@Injectable()
export class RuntimeDatabases {
  constructor(
    @InjectConnection() private readonly connection: Connection,
    private readonly names: Names,
  ) {}

  databasesOf(runtimeId: string): string[] {
    return [this.names.runtimeDb(runtimeId), this.names.runtimeDataDb(runtimeId)];
  }

  /** Creates both (a database appears with its first collection). Idempotent. */
  async create(runtimeId: string): Promise<string[]> {
    const dbs = this.databasesOf(runtimeId);
    for (const db of dbs) {
      await this.connection
        .useDb(db, { useCache: true })
        .createCollection('_kre')
        .catch((error: unknown) => {
          if (!/already exists/i.test(String(error))) throw error;
        });
    }
    return dbs;
  }

  /**
   * Drops both, and the runtime's retention setting (the platform database's `obsRetention`), so
   * a runtime created again with this id starts from the installation's default; absent is fine.
   */
  async drop(runtimeId: string): Promise<string[]> {
    const dbs = this.databasesOf(runtimeId);
    for (const db of dbs) await this.connection.useDb(db, { useCache: true }).dropDatabase();
    await new ObsRetentionStore(this.connection.getClient().db(this.names.platformDb())).clear(
      runtimeId,
    );
    return dbs;
  }
}
