import { Inject, Injectable } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import { CLOCK, UserActivityType, type Clock } from '@libs/core';
import { Names } from '@libs/naming';
import { ObsRetentionStore } from '@libs/observability';
import type { Connection } from 'mongoose';
import { ADMIN_API_ENV, type AdminApiEnv } from '../admin-api.env.js';
import { AuditService } from '../audit/audit.service.js';
import type { ObservabilityRetention } from './retention.model.js';

/**
 * A runtime's retention of its observability records: its ADMIN's setting (the platform
 * database's `obsRetention`, which mongo-writer's sweep reads), else the installation's
 * `OBS_RETENTION_DAYS`.
 */
@Injectable()
export class RetentionService {
  private readonly store: ObsRetentionStore;

  constructor(
    @InjectConnection() connection: Connection,
    names: Names,
    @Inject(ADMIN_API_ENV) private readonly env: AdminApiEnv,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly audit: AuditService,
  ) {
    this.store = new ObsRetentionStore(connection.getClient().db(names.platformDb()));
  }

  async get(runtimeId: string): Promise<ObservabilityRetention> {
    const own = await this.store.get(runtimeId);
    return own
      ? {
          runtimeId,
          days: own.days,
          isDefault: false,
          updatedAt: own.updatedAt,
          updatedBy: own.updatedBy,
        }
      : {
          runtimeId,
          days: this.env.OBS_RETENTION_DAYS,
          isDefault: true,
          updatedAt: null,
          updatedBy: null,
        };
  }

  /**
   * Sets the runtime's retention (`days`), or returns it to the default (null); audited as a
   * runtime update (shortening it deletes records at mongo-writer's next sweep).
   */
  async set(
    runtimeId: string,
    days: number | null,
    by: { id: string; email: string },
  ): Promise<ObservabilityRetention> {
    const before = await this.get(runtimeId);
    if (days === null) await this.store.clear(runtimeId);
    else await this.store.set(runtimeId, days, by.id, this.clock.now());
    const after = await this.get(runtimeId);
    await this.audit.record({
      type: UserActivityType.UPDATE_RUNTIME,
      user: by,
      runtimeId,
      vars: {
        FIELD: 'observabilityRetentionDays',
        OLD_VALUE: `${before.days}${before.isDefault ? ' (default)' : ''}`,
        NEW_VALUE: `${after.days}${after.isDefault ? ' (default)' : ''}`,
      },
    });
    return after;
  }
}
