import type { RuntimeRole } from '@libs/core';
import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { type Model, Schema } from 'mongoose';

/** A user's role on one runtime. `_id` = `<runtimeId>:<userId>`, so the guard's lookup is by `_id`. */
export interface MembershipDoc {
  _id: string;
  runtimeId: string;
  userId: string;
  role: RuntimeRole;
  creationDate: Date;
}

export const MEMBERSHIP_MODEL = 'Membership';
export const membershipSchema = new Schema<MembershipDoc>(
  {
    _id: String,
    runtimeId: { type: String, required: true },
    userId: { type: String, required: true },
    role: { type: String, required: true },
    creationDate: { type: Date, required: true },
  },
  { versionKey: false },
);

const key = (runtimeId: string, userId: string) => `${runtimeId}:${userId}`;

@Injectable()
export class MembershipsRepository {
  constructor(@InjectModel(MEMBERSHIP_MODEL) private readonly model: Model<MembershipDoc>) {}

  async roleOf(runtimeId: string, userId: string): Promise<RuntimeRole | null> {
    const doc = await this.model.findById(key(runtimeId, userId)).lean<MembershipDoc>().exec();
    return doc?.role ?? null;
  }

  /** Adds the member or changes its role. */
  async put(runtimeId: string, userId: string, role: RuntimeRole, now: Date): Promise<void> {
    await this.model.replaceOne(
      { _id: key(runtimeId, userId) },
      { runtimeId, userId, role, creationDate: now },
      { upsert: true },
    );
  }

  async remove(runtimeId: string, userId: string): Promise<void> {
    await this.model.deleteOne({ _id: key(runtimeId, userId) });
  }

  listByUser(userId: string): Promise<MembershipDoc[]> {
    return this.model.find({ userId }).lean<MembershipDoc[]>().exec();
  }

  listByRuntime(runtimeId: string): Promise<MembershipDoc[]> {
    return this.model.find({ runtimeId }).lean<MembershipDoc[]>().exec();
  }

  async removeAllOfUsers(userIds: readonly string[]): Promise<void> {
    await this.model.deleteMany({ userId: { $in: [...userIds] } });
  }
}
