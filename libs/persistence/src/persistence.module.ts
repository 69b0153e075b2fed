import { type DynamicModule, Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';

export interface PersistenceOptions {
  /** `MONGO_URL`: a MongoDB or FerretDB server. */
  url: string;
  /** The platform database (`names.platformDb()`); runtime databases come from `useDb`. */
  dbName: string;
}

/**
 * The one MongoDB connection of an app. Per-runtime databases share its pool through
 * `connection.useDb(name, { useCache: true })`.
 */
@Module({})
export class PersistenceModule {
  static forRoot(options: PersistenceOptions): DynamicModule {
    return {
      module: PersistenceModule,
      imports: [MongooseModule.forRoot(options.url, mongooseOptions(options.dbName))],
      exports: [MongooseModule],
    };
  }
}

/** Connection options that behave the same on MongoDB 7 and FerretDB v1 (see docs/data.md). */
export function mongooseOptions(dbName: string) {
  return {
    dbName,
    // FerretDB v1 has no transactions, so retryable writes (which need sessions) are off.
    retryWrites: false,
    serverSelectionTimeoutMS: 10_000,
    // Fail fast instead of buffering commands forever while the server is down.
    bufferCommands: false,
  };
}

/** Health check of the MongoDB connection (`ping`, which FerretDB answers too). */
export function mongoCheck(connection: Connection): { key: string; check: () => Promise<unknown> } {
  return {
    key: 'mongo',
    check: async () => {
      if (!connection.db) throw new Error('not connected');
      return connection.db.admin().ping();
    },
  };
}
