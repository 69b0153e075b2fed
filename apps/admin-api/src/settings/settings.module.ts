import { Module } from '@nestjs/common';
import { IdentityModule } from '@libs/persistence';
import { AuditModule } from '../audit/audit.module.js';
import { SettingsResolver } from './settings.resolver.js';
import { SettingsService } from './settings.service.js';

@Module({
  imports: [IdentityModule, AuditModule],
  providers: [SettingsService, SettingsResolver],
  exports: [SettingsService],
})
export class SettingsModule {}
