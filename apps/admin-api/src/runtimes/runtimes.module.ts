import { Module } from '@nestjs/common';
import { IdentityModule } from '@libs/persistence';
import { AuditModule } from '../audit/audit.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { InvocationKeysModule } from '../invocation-keys/invocation-keys.module.js';
import { RuntimesResolver } from './runtimes.resolver.js';
import { RuntimesService } from './runtimes.service.js';

/** Runtimes (tenants), their members and settings (invocation keys: InvocationKeysModule). */
@Module({
  imports: [IdentityModule, AuditModule, AuthModule, InvocationKeysModule],
  providers: [RuntimesService, RuntimesResolver],
  exports: [RuntimesService],
})
export class RuntimesModule {}
