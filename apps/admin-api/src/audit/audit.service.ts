import { CLOCK, BadUserInputError, type Clock, type UserActivityType } from '@libs/core';
import { NATS_CONNECTION } from '@libs/messaging';
import { Names } from '@libs/naming';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  UsersRepository,
  AuditRepository,
  type UserActivityDoc,
  activityId,
} from '@libs/persistence';
import { natsEvents } from '../common/nats-events.js';

export interface ActivityEntry {
  type: UserActivityType;
  /** Who did it. */
  user: { id: string; email: string };
  runtimeId?: string;
  vars?: Record<string, string>;
}

export interface ActivityFilters {
  userEmail?: string;
  types?: UserActivityType[];
  runtimeId?: string;
  fromDate?: Date;
  toDate?: Date;
}

export interface ActivityPage {
  items: UserActivityDoc[];
  /** Pass it back for the next (older) page; null on the last page. */
  cursor: string | null;
}

const CURSOR = /^\d{15}-\d{6}-[0-9a-f]{8}$/;

@Injectable()
export class AuditService {
  private readonly logger = new Logger(AuditService.name);
  private readonly subject: string;

  constructor(
    private readonly repository: AuditRepository,
    private readonly users: UsersRepository,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(CLOCK) private readonly clock: Clock,
    names: Names,
  ) {
    this.subject = names.serviceSubject('admin-api', 'activity');
  }

  /** Writes one audit entry, then tells live watchers (every admin-api replica) about it. */
  async record(entry: ActivityEntry): Promise<void> {
    const date = this.clock.now();
    const doc: UserActivityDoc = {
      _id: activityId(date),
      type: entry.type,
      userId: entry.user.id,
      userEmail: entry.user.email,
      date,
      ...(entry.runtimeId !== undefined ? { runtimeId: entry.runtimeId } : {}),
      vars: Object.entries(entry.vars ?? {}).map(([key, value]) => ({ key, value })),
    };
    await this.repository.insert(doc);
    try {
      this.nc.publish(this.subject, JSON.stringify(doc));
    } catch (error) {
      this.logger.warn(`live activity not published: ${String(error)}`); // it is stored
    }
  }

  /** Newest first. Who may see what was decided by the guard (runtime admins pass `runtimeId`). */
  async list(
    filters: ActivityFilters,
    cursor: string | undefined,
    limit: number,
  ): Promise<ActivityPage> {
    if (cursor !== undefined && !CURSOR.test(cursor)) {
      throw new BadUserInputError([
        { field: 'cursor', message: 'is not a cursor this API returned' },
      ]);
    }
    let userId: string | undefined;
    if (filters.userEmail !== undefined) {
      const user = await this.users.findByEmail(filters.userEmail);
      if (!user) return { items: [], cursor: null };
      userId = user._id;
    }
    const found = await this.repository.list({
      userId,
      types: filters.types,
      runtimeId: filters.runtimeId,
      fromDate: filters.fromDate,
      toDate: filters.toDate,
      before: cursor,
      limit,
    });
    const items = found.slice(0, limit);
    return { items, cursor: found.length > limit ? items[items.length - 1]._id : null };
  }

  /** Live entries: of one runtime, or of all (platform admins). */
  watch(runtimeId: string | undefined): AsyncIterableIterator<UserActivityDoc> {
    return natsEvents(this.nc, this.subject, (message) => {
      const event = message as UserActivityDoc;
      if (runtimeId !== undefined && event.runtimeId !== runtimeId) return undefined;
      return { ...event, date: new Date(event.date) };
    });
  }
}
