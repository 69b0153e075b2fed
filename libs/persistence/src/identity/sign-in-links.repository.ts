import { Injectable } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import type { Collection } from 'mongodb';
import type { Connection } from 'mongoose';
import { consumeOnce } from '../atomic.js';

/** A sign-in link. `_id` = SHA-256 of the token in the emailed URL (never stored). */
export interface SignInLinkDoc {
  _id: string;
  email: string;
  createdAt: Date;
  expiresAt: Date;
}

/** The newest link of an address. `_id` = SHA-256 of the address; `linkId` = that link's `_id`. */
interface LatestLinkDoc {
  _id: string;
  linkId: string;
}

/**
 * Links are consumed with `consumeOnce` (read, then `deleteOne` by `_id`): of concurrent
 * verifications exactly one wins, on MongoDB and on FerretDB (docs/data.md).
 */
@Injectable()
export class SignInLinksRepository {
  constructor(@InjectConnection() private readonly connection: Connection) {}

  private links(): Collection<SignInLinkDoc> {
    return this.connection.db!.collection<SignInLinkDoc>('sign_in_links');
  }
  private latest(): Collection<LatestLinkDoc> {
    return this.connection.db!.collection<LatestLinkDoc>('sign_in_latest');
  }

  /** Stores a new link as the address's newest and deletes the one it supersedes. */
  async insertNewest(link: SignInLinkDoc, emailHash: string): Promise<void> {
    await this.links().insertOne(link);
    const previous = await this.latest().findOneAndReplace(
      { _id: emailHash },
      { linkId: link._id },
      { upsert: true },
    );
    if (previous && previous.linkId !== link._id)
      await this.links().deleteOne({ _id: previous.linkId });
  }

  /** Reads a link without consuming it (the confirmation step shows whose it is). */
  find(hash: string): Promise<SignInLinkDoc | null> {
    return this.links().findOne({ _id: hash });
  }

  /** Takes the link out of the store; null when unknown or when a concurrent caller took it. */
  consume(hash: string): Promise<SignInLinkDoc | null> {
    return consumeOnce(this.links(), hash);
  }

  /** Whether `linkHash` is still the newest link of the address. */
  async isNewest(emailHash: string, linkHash: string): Promise<boolean> {
    const latest = await this.latest().findOne({ _id: emailHash });
    return latest?.linkId === linkHash;
  }
}
