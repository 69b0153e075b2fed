import type { Db } from 'mongodb';

/** How many days of a runtime's observability records are kept, when no one set it. */
export const OBS_RETENTION_DEFAULT_DAYS = 30;
/** The bounds a runtime's retention may be set within. */
export const OBS_RETENTION_MIN_DAYS = 1;
export const OBS_RETENTION_MAX_DAYS = 365;

/** A runtime's own retention, when its ADMIN set one (`_id` = runtime id). */
export interface ObsRetentionDoc {
  _id: string;
  days: number;
  updatedAt: Date;
  updatedBy: string;
}

/**
 * Per-runtime retention in the platform database (collection `obsRetention`, one document per
 * runtime that set one, keyed by its id: lookups are `_id` equality, fast on FerretDB).
 * admin-api writes it, mongo-writer's retention job reads it; a runtime without a document
 * keeps the installation default (`OBS_RETENTION_DAYS`).
 */
export class ObsRetentionStore {
  static readonly COLLECTION = 'obsRetention';

  constructor(private readonly platformDb: Db) {}

  private get collection() {
    return this.platformDb.collection<ObsRetentionDoc>(ObsRetentionStore.COLLECTION);
  }

  /** The runtime's own setting, or undefined when it has none. */
  async get(runtimeId: string): Promise<ObsRetentionDoc | undefined> {
    return (await this.collection.findOne({ _id: runtimeId })) ?? undefined;
  }

  /** Sets (or replaces) the runtime's retention. */
  async set(runtimeId: string, days: number, by: string, at: Date): Promise<ObsRetentionDoc> {
    const doc: ObsRetentionDoc = { _id: runtimeId, days, updatedAt: at, updatedBy: by };
    await this.collection.replaceOne({ _id: runtimeId }, doc, { upsert: true });
    return doc;
  }

  /** Back to the installation default. */
  async clear(runtimeId: string): Promise<void> {
    await this.collection.deleteOne({ _id: runtimeId });
  }

  /** Every runtime's own setting, by runtime id. */
  async all(): Promise<Map<string, number>> {
    const docs = await this.collection.find({}).toArray();
    return new Map(docs.map((d) => [d._id, d.days]));
  }
}
