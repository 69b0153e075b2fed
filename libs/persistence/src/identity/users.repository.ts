import { randomUUID } from 'node:crypto';
import { ConflictError, type PlatformRole } from '@libs/core';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { type Model, Schema } from 'mongoose';
import { isDuplicateKey } from '../atomic.js';

export interface UserDoc {
  _id: string;
  /** Lowercase; unique (removed users keep theirs, so they can be restored). */
  email: string;
  platformRole: PlatformRole;
  creationDate: Date;
  lastActivity?: Date;
  /** Set when removed (soft delete): the user can no longer sign in. */
  deletedAt?: Date;
}

export const USER_MODEL = 'User';
export const userSchema = new Schema<UserDoc>(
  {
    _id: String,
    email: { type: String, required: true },
    platformRole: { type: String, required: true },
    creationDate: { type: Date, required: true },
    lastActivity: Date,
    deletedAt: Date,
  },
  { versionKey: false },
);
userSchema.index({ email: 1 }, { unique: true });

/** Lowercase and trimmed: one address, one user. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

@Injectable()
export class UsersRepository implements OnModuleInit {
  constructor(@InjectModel(USER_MODEL) private readonly model: Model<UserDoc>) {}

  async onModuleInit(): Promise<void> {
    await this.model.init(); // the unique email index exists before the first insert
  }

  findById(id: string): Promise<UserDoc | null> {
    return this.model.findById(id).lean<UserDoc>().exec();
  }

  /** Active (not removed) user by id. */
  async findActive(id: string): Promise<UserDoc | null> {
    const user = await this.findById(id);
    return user && !user.deletedAt ? user : null;
  }

  /** By address, removed or not. */
  findByEmail(email: string): Promise<UserDoc | null> {
    return this.model
      .findOne({ email: normalizeEmail(email) })
      .lean<UserDoc>()
      .exec();
  }

  findActiveByIds(ids: readonly string[]): Promise<UserDoc[]> {
    return this.model
      .find({ _id: { $in: [...ids] }, deletedAt: { $exists: false } })
      .lean<UserDoc[]>()
      .exec();
  }

  listActive(): Promise<UserDoc[]> {
    return this.model
      .find({ deletedAt: { $exists: false } })
      .sort({ email: 1 })
      .lean<UserDoc[]>()
      .exec();
  }

  /** @throws ConflictError when the address is taken (also by a removed user). */
  async create(email: string, platformRole: PlatformRole, now: Date): Promise<UserDoc> {
    const doc: UserDoc = {
      _id: randomUUID(),
      email: normalizeEmail(email),
      platformRole,
      creationDate: now,
    };
    try {
      await this.model.create(doc);
    } catch (error) {
      if (isDuplicateKey(error)) throw new ConflictError(`a user with email "${doc.email}" exists`);
      throw error;
    }
    return doc;
  }

  /** Brings a removed user back with a role. */
  async restore(id: string, platformRole: PlatformRole): Promise<void> {
    await this.model.updateOne({ _id: id }, { $set: { platformRole }, $unset: { deletedAt: 1 } });
  }

  async setPlatformRole(ids: readonly string[], platformRole: PlatformRole): Promise<void> {
    await this.model.updateMany({ _id: { $in: [...ids] } }, { $set: { platformRole } });
  }

  async softDelete(ids: readonly string[], at: Date): Promise<void> {
    await this.model.updateMany({ _id: { $in: [...ids] } }, { $set: { deletedAt: at } });
  }

  async touch(id: string, at: Date): Promise<void> {
    await this.model.updateOne({ _id: id }, { $set: { lastActivity: at } });
  }
}
