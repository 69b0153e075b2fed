import { Module } from '@nestjs/common';
import { IdentityModule } from '@libs/persistence';
import { AuditModule } from '../audit/audit.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { RuntimesResolver } from './runtimes.resolver.js';
import { RuntimesService } from './runtimes.service.js';

/** Runtimes (tenants) and their members. */
@Module({
  imports: [IdentityModule, AuditModule, AuthModule],
  providers: [RuntimesService, RuntimesResolver],
  exports: [RuntimesService],
})
export class RuntimesModule {}
