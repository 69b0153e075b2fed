import { randomBytes } from 'node:crypto';
import type { UserActivityType } from '@libs/core';
import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { type QueryFilter, type Model, Schema } from 'mongoose';

export interface ActivityVar {
  key: string;
  value: string;
}

/**
 * One audit entry. `_id` sorts by time (`<ms>-<seq>-<random>`), so "newest first" and the page
 * cursor are plain `_id` comparisons.
 */
export interface UserActivityDoc {
  _id: string;
  type: UserActivityType;
  userId: string;
  /** The user's address at the time (users can be removed; the log stays readable). */
  userEmail: string;
  date: Date;
  runtimeId?: string;
  vars: ActivityVar[];
}

export const USER_ACTIVITY_MODEL = 'UserActivity';
export const userActivitySchema = new Schema<UserActivityDoc>(
  {
    _id: String,
    type: { type: String, required: true },
    userId: { type: String, required: true },
    userEmail: { type: String, required: true },
    date: { type: Date, required: true },
    runtimeId: String,
    vars: [{ _id: false, key: String, value: String }],
  },
  { versionKey: false },
);

export interface ActivityQuery {
  userId?: string;
  types?: readonly UserActivityType[];
  runtimeId?: string;
  fromDate?: Date;
  toDate?: Date;
  /** The `_id` of the last entry of the previous page. */
  before?: string;
  limit: number;
}

let sequence = 0;

/** A time-ordered id: same-millisecond entries of one process keep their order. */
export function activityId(date: Date): string {
  sequence = (sequence + 1) % 1_000_000;
  return `${String(date.getTime()).padStart(15, '0')}-${String(sequence).padStart(6, '0')}-${randomBytes(4).toString('hex')}`;
}

@Injectable()
export class AuditRepository {
  constructor(@InjectModel(USER_ACTIVITY_MODEL) private readonly model: Model<UserActivityDoc>) {}

  async insert(activity: UserActivityDoc): Promise<void> {
    await this.model.create(activity);
  }

  /** Newest first; one more than `limit` so the caller knows whether a next page exists. */
  list(query: ActivityQuery): Promise<UserActivityDoc[]> {
    const filter: QueryFilter<UserActivityDoc> = {};
    if (query.userId !== undefined) filter.userId = query.userId;
    if (query.types?.length) filter.type = { $in: [...query.types] };
    if (query.runtimeId !== undefined) filter.runtimeId = query.runtimeId;
    if (query.fromDate || query.toDate) {
      filter.date = {
        ...(query.fromDate ? { $gte: query.fromDate } : {}),
        ...(query.toDate ? { $lte: query.toDate } : {}),
      };
    }
    if (query.before !== undefined) filter._id = { $lt: query.before };
    return this.model
      .find(filter)
      .sort({ _id: -1 })
      .limit(query.limit + 1)
      .lean<UserActivityDoc[]>()
      .exec();
  }
}
