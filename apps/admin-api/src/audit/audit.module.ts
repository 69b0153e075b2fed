import { Module } from '@nestjs/common';
import { IdentityStoreModule } from '../identity-store.module.js';
import { AuditResolver } from './audit.resolver.js';
import { AuditService } from './audit.service.js';

@Module({
  imports: [IdentityStoreModule],
  providers: [AuditService, AuditResolver],
  exports: [AuditService],
})
export class AuditModule {}
