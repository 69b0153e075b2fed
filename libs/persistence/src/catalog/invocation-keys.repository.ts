import { ConflictError, NotFoundError } from '@libs/core';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { type Model, Schema } from 'mongoose';
import { isDuplicateKey } from '../atomic.js';

/**
 * A key for calling a runtime through the gateway (`invocation_keys`). `_id` is the key's
 * public id; the key itself is shown once and only its SHA-256 (`hash`) is stored. Revoked keys
 * stay (with `revokedAt`) so the audit log and the list keep naming them.
 */
export interface InvocationKeyDoc {
  _id: string;
  runtimeId: string;
  name: string;
  hash: string;
  createdAt: Date;
  createdBy: string;
  expiresAt?: Date;
  lastUsedAt?: Date;
  revokedAt?: Date;
  revokedBy?: string;
}

export const INVOCATION_KEY_MODEL = 'InvocationKey';
export const invocationKeySchema = new Schema<InvocationKeyDoc>(
  {
    _id: String,
    runtimeId: { type: String, required: true },
    name: { type: String, required: true },
    hash: { type: String, required: true },
    createdAt: { type: Date, required: true },
    createdBy: { type: String, required: true },
    expiresAt: Date,
    lastUsedAt: Date,
    revokedAt: Date,
    revokedBy: String,
  },
  { versionKey: false, collection: 'invocation_keys' },
);
// A name stays taken after revocation, so the audit log's names stay unambiguous.
invocationKeySchema.index({ runtimeId: 1, name: 1 }, { unique: true });

export class InvocationKeyNotFoundError extends NotFoundError {
  constructor(id: string) {
    super('invocationKey', id);
  }
}

/** Every query is scoped by the runtime: another runtime's key is not found, as a missing one. */
@Injectable()
export class InvocationKeysRepository implements OnModuleInit {
  constructor(@InjectModel(INVOCATION_KEY_MODEL) private readonly model: Model<InvocationKeyDoc>) {}

  async onModuleInit(): Promise<void> {
    await this.model.init();
  }

  /** @throws ConflictError when the runtime already has a key with that name. */
  async insert(key: InvocationKeyDoc): Promise<void> {
    try {
      await this.model.collection.insertOne(key as never);
    } catch (error) {
      if (isDuplicateKey(error))
        throw new ConflictError(
          `runtime "${key.runtimeId}" already has an invocation key named "${key.name}": choose another name`,
          { runtimeId: key.runtimeId, name: key.name },
        );
      throw error;
    }
  }

  /** Oldest first, revoked ones included. */
  listByRuntime(runtimeId: string): Promise<InvocationKeyDoc[]> {
    return this.model.find({ runtimeId }).sort({ createdAt: 1 }).lean<InvocationKeyDoc[]>().exec();
  }

  /** What the gateway needs: the runtime's keys that are not revoked (expired ones included). */
  listUsable(runtimeId: string): Promise<InvocationKeyDoc[]> {
    return this.model
      .find({ runtimeId, revokedAt: { $exists: false } })
      .sort({ createdAt: 1 })
      .lean<InvocationKeyDoc[]>()
      .exec();
  }

  /**
   * Revokes a key of the runtime once (compare-and-set on `revokedAt`).
   * @throws InvocationKeyNotFoundError when the runtime has no such key; ConflictError when it
   * is revoked already.
   */
  async revoke(runtimeId: string, id: string, by: string, at: Date): Promise<InvocationKeyDoc> {
    const doc = await this.model
      .findOneAndUpdate(
        { _id: id, runtimeId, revokedAt: { $exists: false } },
        { $set: { revokedAt: at, revokedBy: by } },
        { returnDocument: 'after' },
      )
      .lean<InvocationKeyDoc>()
      .exec();
    if (doc) return doc;
    const current = await this.model
      .findOne({ _id: id, runtimeId })
      .lean<InvocationKeyDoc>()
      .exec();
    if (!current) throw new InvocationKeyNotFoundError(id);
    throw new ConflictError(`invocation key "${current.name}" is revoked already`, {
      runtimeId,
      id,
    });
  }

  /**
   * Records a use, coarsely: only when the stored `lastUsedAt` is older than `at - minGapMs`
   * (or absent), so a busy key costs at most one write per gap. True when it wrote.
   */
  async touch(runtimeId: string, id: string, at: Date, minGapMs: number): Promise<boolean> {
    const { modifiedCount } = await this.model
      .updateOne(
        {
          _id: id,
          runtimeId,
          $or: [
            { lastUsedAt: { $exists: false } },
            { lastUsedAt: { $lte: new Date(at.getTime() - minGapMs) } },
          ],
        },
        { $set: { lastUsedAt: at } },
      )
      .exec();
    return modifiedCount === 1;
  }

  /** A deleted runtime's keys go with it. */
  async removeAllOf(runtimeId: string): Promise<void> {
    await this.model.deleteMany({ runtimeId }).exec();
  }
}
