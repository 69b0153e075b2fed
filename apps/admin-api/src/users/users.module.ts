import { Module } from '@nestjs/common';
import { IdentityModule } from '@libs/persistence';
import { AuditModule } from '../audit/audit.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { AdminBootstrap } from './admin-bootstrap.service.js';
import { UsersResolver } from './users.resolver.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [IdentityModule, AuditModule, AuthModule],
  providers: [UsersService, UsersResolver, AdminBootstrap],
})
export class UsersModule {}
