import { Injectable, Logger } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import { Names } from '@libs/naming';
import { parseDayCollection } from '@libs/observability';
import { type Db, MongoBulkWriteError } from 'mongodb';
import type { Connection } from 'mongoose';
import type { ObsDocument, ObsWrite } from './obs-documents.js';

/**
 * The index admin-api's newest-first reads use on a day collection of `kind`: `time` desc then
 * `_id` (`end` for node metrics). Also the floor's collection shape in bench/obs-ingestion.ts.
 */
export function readIndexOf(kind: string): Record<string, -1> {
  return kind === 'metrics' ? { end: -1, _id: -1 } : { time: -1, _id: -1 };
}

/**
 * What one batch did: documents inserted, those already there (a redelivered batch), and those
 * the database refused (by `_id`, with its reason), which a retry would refuse again.
 */
export interface ObsBatchResult {
  inserted: number;
  duplicates: number;
  refused: { id: string | number; reason: string }[];
}

/**
 * Runners' observability records in the runtime's database `<p>_<rt>`, one collection per kind
 * and day (`obs-documents.ts`). Idempotent: `_id` is the record's producer-made id (its stream
 * sequence for records without one), so writing a batch again (redelivered after a crash between
 * the write and the acks, or published twice by a producer that retried) adds nothing.
 */
@Injectable()
export class ObsRecordsRepository {
  private readonly logger = new Logger(ObsRecordsRepository.name);
  /** `<db>.<collection>` whose read index exists (made once per process, then known). */
  private readonly indexed = new Set<string>();

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
    const result: ObsBatchResult = { inserted: 0, duplicates: 0, refused: [] };
    for (const [collection, documents] of byCollection) {
      try {
        const { insertedCount } = await db
          .collection<ObsDocument>(collection)
          .insertMany(documents, { ordered: false });
        result.inserted += insertedCount;
      } catch (error) {
        const errors = documentErrors(error);
        if (!errors) throw error;
        result.inserted += (error as MongoBulkWriteError).insertedCount;
        for (const { index, code, errmsg } of errors) {
          if (code === 11000) result.duplicates += 1;
          else result.refused.push({ id: documents[index]?._id ?? -1, reason: errmsg });
        }
      }
      await this.ensureReadIndex(db, collection);
    }
    return result;
  }

  /**
   * The index admin-api's newest-first reads use (`time` desc then `_id`; `end` for node
   * metrics), made the first time this process writes a day collection. On MongoDB 7 it makes a
   * page of logs an index walk; FerretDB v1 accepts it but scans anyway. Best effort: a failure
   * is logged and tried again with the next batch, never holding records back.
   */
  private async ensureReadIndex(db: Db, collection: string): Promise<void> {
    const key = `${db.databaseName}.${collection}`;
    const kind = parseDayCollection(collection)?.kind;
    if (!kind || this.indexed.has(key)) return;
    try {
      await db.collection(collection).createIndex(readIndexOf(kind));
      this.indexed.add(key);
    } catch (error) {
      this.logger.warn(`cannot index ${key} (tried again with the next batch): ${String(error)}`);
    }
  }
}

interface DocumentError {
  index: number;
  code: number;
  errmsg: string;
}

/**
 * The per-document errors of an unordered insert the server answered, or undefined when the
 * write as a whole failed (database down, write concern): then it is retried.
 */
function documentErrors(error: unknown): DocumentError[] | undefined {
  if (!(error instanceof MongoBulkWriteError) || error.result.getWriteConcernError())
    return undefined;
  const errors = ([error.writeErrors].flat() as unknown[]).map((e) => {
    const { index, code, errmsg } = e as Partial<DocumentError>;
    return { index: index ?? -1, code: code ?? 0, errmsg: errmsg ?? 'refused' };
  });
  return errors.length > 0 && errors.every((e) => e.index >= 0) ? errors : undefined;
}
