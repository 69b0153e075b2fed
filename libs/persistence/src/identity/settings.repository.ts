import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { type Model, Schema } from 'mongoose';
import { isDuplicateKey } from '../atomic.js';

export interface SettingsValues {
  /** Addresses in these domains may sign in without an account (one is created). */
  authAllowedDomains: string[];
  sessionLifetimeInDays: number;
  sessionIdleMinutes: number;
  signInLinkTtlMinutes: number;
}

/** The single settings document (`_id` = `settings`). */
interface SettingsDoc extends SettingsValues {
  _id: string;
}

const ID = 'settings';
export const SETTINGS_MODEL = 'Settings';
export const settingsSchema = new Schema<SettingsDoc>(
  {
    _id: String,
    authAllowedDomains: [String],
    sessionLifetimeInDays: { type: Number, required: true },
    sessionIdleMinutes: { type: Number, required: true },
    signInLinkTtlMinutes: { type: Number, required: true },
  },
  { versionKey: false },
);

const values = ({ _id: _, ...rest }: SettingsDoc): SettingsValues => rest;

@Injectable()
export class SettingsRepository {
  constructor(@InjectModel(SETTINGS_MODEL) private readonly model: Model<SettingsDoc>) {}

  /** The settings; created with `defaults` the first time. */
  async get(defaults: SettingsValues): Promise<SettingsValues> {
    const found = await this.model.findById(ID).lean<SettingsDoc>().exec();
    if (found) return values(found);
    try {
      await this.model.create({ _id: ID, ...defaults });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error; // another replica created them first
    }
    return values((await this.model.findById(ID).lean<SettingsDoc>().exec())!);
  }

  async replace(settings: SettingsValues): Promise<void> {
    await this.model.replaceOne({ _id: ID }, settings, { upsert: true });
  }
}
