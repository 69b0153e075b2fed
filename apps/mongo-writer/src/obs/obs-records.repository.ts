import { Injectable } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import { Names } from '@libs/naming';
import { MongoBulkWriteError } from 'mongodb';
import type { Connection } from 'mongoose';
import type { ObsDocument, ObsWrite } from './obs-documents.js';

/** What one batch did: documents inserted, and those already there (a redelivered batch). */
export interface ObsBatchResult {
  inserted: number;
  duplicates: number;
}

/**
 * Runners' observability records in the runtime's database `<p>_<rt>`, one collection per kind
 * and day (`obs-documents.ts`). Idempotent: `_id` is the record's stream sequence, so writing a
 * batch again (redelivered after a crash between the write and the acks) adds nothing.
 */
@Injectable()
export class ObsRecordsRepository {
  constructor(
    @InjectConnection() private readonly connection: Connection,
    private readonly names: Names,
  ) {}

  /**
   * Inserts a batch of one runtime's records (unordered; documents already stored are skipped).
   * @throws the driver's error when the database fails (nothing may be acked then).
   */
  async insertBatch(runtimeId: string, writes: readonly ObsWrite[]): Promise<ObsBatchResult> {
    const byCollection = new Map<string, ObsDocument[]>();
    for (const { collection, document } of writes) {
      const documents = byCollection.get(collection) ?? [];
      documents.push(document);
      byCollection.set(collection, documents);
    }
    const db = this.connection.getClient().db(this.names.runtimeDb(runtimeId));
    const result: ObsBatchResult = { inserted: 0, duplicates: 0 };
    for (const [collection, documents] of byCollection) {
      try {
        const { insertedCount } = await db
          .collection<ObsDocument>(collection)
          .insertMany(documents, { ordered: false });
        result.inserted += insertedCount;
      } catch (error) {
        const duplicates = duplicateKeyErrors(error);
        if (duplicates === undefined) throw error;
        result.duplicates += duplicates;
        result.inserted += error instanceof MongoBulkWriteError ? error.insertedCount : 0;
      }
    }
    return result;
  }
}

/** How many writes failed with a duplicate `_id`, or undefined when anything else failed. */
function duplicateKeyErrors(error: unknown): number | undefined {
  if (!(error instanceof MongoBulkWriteError) || error.result.getWriteConcernError())
    return undefined;
  const errors: unknown[] = [error.writeErrors].flat();
  if (errors.length === 0 || errors.some((e) => (e as { code?: unknown }).code !== 11000))
    return undefined;
  return errors.length;
}
