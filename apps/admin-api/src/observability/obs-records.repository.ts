import { Injectable } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import { BadUserInputError } from '@libs/core';
import { Names } from '@libs/naming';
import { type ObsKind, dayCollectionsBetween, parseDayCollection } from '@libs/observability';
import type { Db, Document, Filter } from 'mongodb';
import type { Connection } from 'mongoose';

/**
 * A stored record: `_id` is the id its producer made (a string), or its sequence in the
 * runtime's observability stream for a record without one (a number).
 */
export interface ObsRecordDoc extends Document {
  _id: string | number;
}

/**
 * The database's order of `_id`s (BSON: every number before every string): stream sequences of
 * records without an id, then producer-made ids, which sort by time, then emission order.
 */
export function compareObsIds(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The most records one aggregate (metrics, node metrics, measurements) reads. */
export const OBS_SCAN_MAX = 200_000;

/**
 * Reads a runtime's observability records (mongo-writer writes them) from its database
 * `<p>_<rt>`, one collection per kind and UTC day: a query reads only the days of its range that
 * exist. Every method takes the runtime id first; nothing here crosses runtimes.
 */
@Injectable()
export class ObsRecordsRepository {
  constructor(
    @InjectConnection() private readonly connection: Connection,
    private readonly names: Names,
  ) {}

  private db(runtimeId: string): Db {
    return this.connection.getClient().db(this.names.runtimeDb(runtimeId));
  }

  /** The day collections of `kind` between `from` and `to` that exist, newest first. */
  async days(runtimeId: string, kind: ObsKind, from: Date, to: Date): Promise<string[]> {
    const existing = new Set(
      (await this.db(runtimeId).listCollections({}, { nameOnly: true }).toArray())
        .map((c) => c.name)
        .filter((name) => parseDayCollection(name)?.kind === kind),
    );
    return dayCollectionsBetween(kind, from, to).filter((name) => existing.has(name));
  }

  /**
   * Up to `limit` records of the day collections `days` (newest first) matching `filter`,
   * newest first by `time` then `_id`, reading the next day only while the page is not full.
   */
  async newestFirst<T extends ObsRecordDoc>(
    runtimeId: string,
    days: readonly string[],
    filter: Filter<Document>,
    limit: number,
  ): Promise<T[]> {
    const db = this.db(runtimeId);
    const found: T[] = [];
    for (const day of days) {
      if (found.length >= limit) break;
      const docs = await db
        .collection<T>(day)
        .find(filter as Filter<T>)
        .sort({ time: -1, _id: -1 })
        .limit(limit - found.length)
        .toArray();
      found.push(...(docs as T[]));
    }
    return found;
  }

  /**
   * Every record of the day collections `days` matching `filter`, with only `projection`'s
   * fields, for an aggregate computed in code (FerretDB lacks most aggregation operators).
   * @throws BadUserInputError when more than OBS_SCAN_MAX match: the range (its start is the
   * argument `rangeField`) is to be narrowed.
   */
  async all<T extends ObsRecordDoc>(
    runtimeId: string,
    days: readonly string[],
    filter: Filter<Document>,
    projection: Record<string, 1>,
    rangeField: string,
  ): Promise<T[]> {
    const db = this.db(runtimeId);
    const found: T[] = [];
    for (const day of days) {
      const docs = await db
        .collection<T>(day)
        .find(filter as Filter<T>, { projection })
        .limit(OBS_SCAN_MAX + 1 - found.length)
        .toArray();
      found.push(...(docs as T[]));
      if (found.length > OBS_SCAN_MAX)
        throw new BadUserInputError([
          {
            field: rangeField,
            message: `the range holds more than ${OBS_SCAN_MAX} records: choose a shorter one`,
          },
        ]);
    }
    return found;
  }
}
