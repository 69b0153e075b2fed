import { CLOCK, type Clock, ConflictError, PlatformRole, UserActivityType } from '@libs/core';
import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { UsersRepository } from '@libs/persistence';
import { ADMIN_API_ENV, type AdminApiEnv } from '../admin-api.env.js';
import { AuditService } from '../audit/audit.service.js';

/** `ADMIN_EMAIL` is a platform admin from start-up: created, restored or promoted. */
@Injectable()
export class AdminBootstrap implements OnApplicationBootstrap {
  private readonly logger = new Logger(AdminBootstrap.name);

  constructor(
    private readonly users: UsersRepository,
    private readonly audit: AuditService,
    @Inject(ADMIN_API_ENV) private readonly env: AdminApiEnv,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const email = this.env.ADMIN_EMAIL;
    let user = await this.users.findByEmail(email);
    if (user && !user.deletedAt && user.platformRole === PlatformRole.ADMIN) return;
    if (user) {
      await this.users.restore(user._id, PlatformRole.ADMIN);
    } else {
      try {
        user = await this.users.create(email, PlatformRole.ADMIN, this.clock.now());
      } catch (error) {
        if (error instanceof ConflictError) return; // another replica did it
        throw error;
      }
    }
    this.logger.log(`${user.email} is a platform admin (ADMIN_EMAIL)`);
    await this.audit.record({
      type: UserActivityType.UPDATE_PLATFORM_ROLES,
      user: { id: user._id, email: user.email },
      vars: {
        USER_IDS: user._id,
        USER_EMAILS: user.email,
        PLATFORM_ROLE: PlatformRole.ADMIN,
        COMMENT: 'ADMIN_EMAIL at start-up',
      },
    });
  }
}
