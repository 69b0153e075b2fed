import { ConflictError, UserActivityType } from '@libs/core';
import { withLease, SettingsRepository, type SettingsValues } from '@libs/persistence';
import { Inject, Injectable } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { ADMIN_API_ENV, type AdminApiEnv } from '../admin-api.env.js';
import { AuditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';

const LEASE_ATTEMPTS = 50;

@Injectable()
export class SettingsService {
  constructor(
    private readonly repository: SettingsRepository,
    private readonly audit: AuditService,
    @InjectConnection() private readonly connection: Connection,
    @Inject(ADMIN_API_ENV) private readonly env: AdminApiEnv,
  ) {}

  /** The settings (created from the environment's initial values the first time). */
  get(): Promise<SettingsValues> {
    return this.repository.get({
      authAllowedDomains: [],
      sessionLifetimeInDays: this.env.SESSION_LIFETIME_DAYS,
      sessionIdleMinutes: this.env.SESSION_IDLE_MINUTES,
      signInLinkTtlMinutes: this.env.SIGNIN_LINK_TTL_MINUTES,
    });
  }

  /**
   * Changes the given settings and audits each changed one with its old and new value. A lease
   * serialises concurrent updates, so every audited "old value" is the value it replaced.
   */
  async update(by: Principal, changes: Partial<SettingsValues>): Promise<SettingsValues> {
    const locks = this.connection.db!.collection<{ _id: string; expiresAt: Date }>('locks');
    for (let attempt = 0; attempt < LEASE_ATTEMPTS; attempt++) {
      const result = await withLease(locks, 'admin-api:settings', async () => {
        const old = await this.get();
        const next: SettingsValues = { ...old };
        const changed: { key: keyof SettingsValues; from: string; to: string }[] = [];
        for (const key of Object.keys(changes) as (keyof SettingsValues)[]) {
          const value = changes[key];
          if (value === undefined) continue;
          const [from, to] = [show(old[key]), show(value)];
          if (from === to) continue;
          (next as unknown as Record<string, unknown>)[key] = value;
          changed.push({ key, from, to });
        }
        if (changed.length) await this.repository.replace(next);
        for (const change of changed) {
          await this.audit.record({
            type: UserActivityType.UPDATE_SETTING,
            user: by,
            vars: { SETTING_NAME: change.key, OLD_VALUE: change.from, NEW_VALUE: change.to },
          });
        }
        return next;
      });
      if (result.acquired) return result.value;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new ConflictError('the settings are being changed by someone else: try again');
  }

  /** Whether an address's domain lets it sign up (exact, case-insensitive match). */
  static domainAllowed(email: string, settings: SettingsValues): boolean {
    const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
    return settings.authAllowedDomains.some((allowed) => allowed.toLowerCase() === domain);
  }
}

function show(value: SettingsValues[keyof SettingsValues]): string {
  return Array.isArray(value) ? value.join(',') : String(value);
}
