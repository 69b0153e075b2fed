import { ConflictError } from '@libs/core';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { type Model, Schema } from 'mongoose';
import { isDuplicateKey } from '../atomic.js';

/** An API token. `_id` = SHA-256 of the secret (shown once, never stored); `id` is public. */
export interface ApiTokenDoc {
  _id: string;
  id: string;
  userId: string;
  name: string;
  creationDate: Date;
  expiresAt: Date;
  lastUsedAt?: Date;
}

export const API_TOKEN_MODEL = 'ApiToken';
export const apiTokenSchema = new Schema<ApiTokenDoc>(
  {
    _id: String,
    id: { type: String, required: true },
    userId: { type: String, required: true },
    name: { type: String, required: true },
    creationDate: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
    lastUsedAt: Date,
  },
  { versionKey: false },
);
apiTokenSchema.index({ userId: 1, name: 1 }, { unique: true });
apiTokenSchema.index({ id: 1 }, { unique: true });

@Injectable()
export class ApiTokensRepository implements OnModuleInit {
  constructor(@InjectModel(API_TOKEN_MODEL) private readonly model: Model<ApiTokenDoc>) {}

  async onModuleInit(): Promise<void> {
    await this.model.init();
  }

  /** @throws ConflictError when the user already has a token with that name. */
  async insert(token: ApiTokenDoc): Promise<void> {
    try {
      await this.model.create(token);
    } catch (error) {
      if (isDuplicateKey(error))
        throw new ConflictError(`you already have an API token named "${token.name}"`, {
          name: token.name,
        });
      throw error;
    }
  }

  findByHash(hash: string): Promise<ApiTokenDoc | null> {
    return this.model.findById(hash).lean<ApiTokenDoc>().exec();
  }

  findById(id: string): Promise<ApiTokenDoc | null> {
    return this.model.findOne({ id }).lean<ApiTokenDoc>().exec();
  }

  listByUser(userId: string): Promise<ApiTokenDoc[]> {
    return this.model.find({ userId }).sort({ creationDate: 1 }).lean<ApiTokenDoc[]>().exec();
  }

  async touch(hash: string, at: Date): Promise<void> {
    await this.model.updateOne({ _id: hash }, { $set: { lastUsedAt: at } });
  }

  /** True when this call deleted it. */
  async delete(hash: string): Promise<boolean> {
    const { deletedCount } = await this.model.deleteOne({ _id: hash });
    return deletedCount === 1;
  }

  async deleteAllOfUsers(userIds: readonly string[]): Promise<string[]> {
    const docs = await this.model
      .find({ userId: { $in: [...userIds] } }, { _id: 1 })
      .lean<{ _id: string }[]>()
      .exec();
    await this.model.deleteMany({ userId: { $in: [...userIds] } });
    return docs.map((d) => d._id);
  }
}
