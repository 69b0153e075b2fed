import { Injectable } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import type { JsonObject, JsonValue } from '@libs/messaging';
import { Names } from '@libs/naming';
import { isDuplicateKey } from '@libs/persistence';
import { type Document, ObjectId } from 'mongodb';
import type { Connection } from 'mongoose';

/** A write the caller must change (not retry). */
export class DataConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataConflictError';
  }
}

/**
 * What user code stores with `db.save` / reads with `db.find`: the runtime's data database
 * `<p>_<rt>_data`, one collection per name the code chooses. Queries arrive validated.
 */
@Injectable()
export class RuntimeDataRepository {
  constructor(
    @InjectConnection() private readonly connection: Connection,
    private readonly names: Names,
  ) {}

  private collection(runtimeId: string, collection: string) {
    return this.connection
      .getClient()
      .db(this.names.runtimeDataDb(runtimeId))
      .collection(collection);
  }

  /**
   * Inserts one document; returns its `_id` as a string.
   * @throws DataConflictError when a document with the same `_id` exists.
   */
  async insert(runtimeId: string, collection: string, document: JsonObject): Promise<string> {
    try {
      const { insertedId } = await this.collection(runtimeId, collection).insertOne({
        ...document,
      });
      return insertedId instanceof ObjectId ? insertedId.toHexString() : String(insertedId);
    } catch (error) {
      if (isDuplicateKey(error))
        throw new DataConflictError(
          `a document with _id ${JSON.stringify(document._id)} already exists in ${collection}`,
        );
      throw error;
    }
  }

  /** Documents matching `query`, as JSON (`_id` and ObjectIds as hex strings, dates as RFC 3339). */
  async find(
    runtimeId: string,
    collection: string,
    query: JsonObject,
    sort: Record<string, 1 | -1>,
    limit: number,
  ): Promise<JsonObject[]> {
    const docs = await this.collection(runtimeId, collection)
      .find(query)
      .sort(sort)
      .limit(limit)
      .toArray();
    return docs.map((doc) => toJson(doc) as JsonObject);
  }
}

/** BSON values as JSON. */
function toJson(value: unknown): JsonValue {
  if (value === null || value === undefined) return null;
  if (value instanceof ObjectId) return value.toHexString();
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toJson);
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return value.toString();
    case 'object': {
      const bson = (value as { _bsontype?: string })._bsontype;
      if (bson === 'Binary')
        return Buffer.from((value as { buffer: Uint8Array }).buffer).toString('base64');
      if (bson) return (value as { toString(): string }).toString();
      const out: Record<string, JsonValue> = {};
      for (const [key, item] of Object.entries(value as Document)) out[key] = toJson(item);
      return out;
    }
    case 'function':
    case 'symbol':
    case 'undefined':
      break;
  }
  return null;
}
