import type { Collection, Document, Filter } from 'mongodb';

/**
 * Atomic building blocks that hold on MongoDB 7 AND FerretDB v1 (SQLite).
 *
 * Measured on FerretDB v1.24 (libs/persistence/src/atomic.int-spec.ts): of concurrent
 * `findOneAndUpdate({_id, state}, …)`, `findOneAndDelete({_id})` or `updateOne({_id, state}, …)`
 * calls, several "win" (FerretDB reads, then writes by `_id` without re-checking the filter, and
 * `modifiedCount` is 1 for each). Only two operations are atomic on both servers:
 * `insertOne` of a unique `_id` (one succeeds, the others get E11000) and `deleteOne({_id})`
 * (`deletedCount` is 1 for exactly one caller). Everything that must happen once is built on those.
 */

/** E11000: a duplicate key. */
export function isDuplicateKey(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 11000
  );
}

/**
 * Reads and deletes a document in one step that exactly one concurrent caller wins
 * (single-use tokens). Returns the document, or null when it was absent or another caller won.
 */
export async function consumeOnce<T extends Document & { _id: string }>(
  collection: Collection<T>,
  id: string,
): Promise<T | null> {
  const doc = (await collection.findOne({ _id: id } as Filter<T>)) as T | null;
  if (!doc) return null;
  const { deletedCount } = await collection.deleteOne({ _id: id } as Filter<T>);
  return deletedCount === 1 ? doc : null;
}

interface LockDoc {
  _id: string;
  expiresAt: Date;
}

/**
 * Runs `work` while holding a short lease on `key` (a document in `locks` with a unique `_id`),
 * so a read-check-write on one document is not interleaved with another. A lease left by a
 * crashed holder is taken over once it expires. Returns undefined when the lease is busy.
 */
export async function withLease<R>(
  locks: Collection<LockDoc>,
  key: string,
  work: () => Promise<R>,
  options: { ttlMs?: number; now?: () => Date } = {},
): Promise<{ acquired: true; value: R } | { acquired: false }> {
  const ttlMs = options.ttlMs ?? 30_000;
  const now = options.now ?? (() => new Date());
  const acquire = async (): Promise<boolean> => {
    try {
      await locks.insertOne({ _id: key, expiresAt: new Date(now().getTime() + ttlMs) });
      return true;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      return false;
    }
  };
  if (!(await acquire())) {
    const held = await locks.findOne({ _id: key });
    // Expired: delete exactly that lease (one caller wins the delete), then race for a new one.
    if (!held || held.expiresAt.getTime() > now().getTime()) return { acquired: false };
    await locks.deleteOne({ _id: key, expiresAt: held.expiresAt });
    if (!(await acquire())) return { acquired: false };
  }
  try {
    return { acquired: true, value: await work() };
  } finally {
    await locks.deleteOne({ _id: key });
  }
}
