import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { type Model, Schema } from 'mongoose';

/** A server-side session. `_id` = SHA-256 of the session id in the cookie (never stored). */
export interface SessionDoc {
  _id: string;
  userId: string;
  createdAt: Date;
  lastSeenAt: Date;
  /** Absolute expiry (settings.sessionLifetimeInDays at sign-in). */
  expiresAt: Date;
  /** Idle timeout (settings.sessionIdleMinutes at sign-in). */
  idleMinutes: number;
}

export const SESSION_MODEL = 'Session';
export const sessionSchema = new Schema<SessionDoc>(
  {
    _id: String,
    userId: { type: String, required: true },
    createdAt: { type: Date, required: true },
    lastSeenAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
    idleMinutes: { type: Number, required: true },
  },
  { versionKey: false },
);
sessionSchema.index({ userId: 1 });

@Injectable()
export class SessionsRepository {
  constructor(@InjectModel(SESSION_MODEL) private readonly model: Model<SessionDoc>) {}

  async insert(session: SessionDoc): Promise<void> {
    await this.model.create(session);
  }

  findByHash(hash: string): Promise<SessionDoc | null> {
    return this.model.findById(hash).lean<SessionDoc>().exec();
  }

  async touch(hash: string, at: Date): Promise<void> {
    await this.model.updateOne({ _id: hash }, { $set: { lastSeenAt: at } });
  }

  async delete(hash: string): Promise<void> {
    await this.model.deleteOne({ _id: hash });
  }

  async deleteAllOfUsers(userIds: readonly string[]): Promise<number> {
    const { deletedCount } = await this.model.deleteMany({ userId: { $in: [...userIds] } });
    return deletedCount;
  }

  /** Sessions of a user that have not passed their absolute expiry. */
  countLive(userId: string, now: Date): Promise<number> {
    return this.model.countDocuments({ userId, expiresAt: { $gt: now } }).exec();
  }
}
