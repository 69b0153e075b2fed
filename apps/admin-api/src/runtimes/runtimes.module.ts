import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { MulterModule } from '@nestjs/platform-express';
import { IdentityModule } from '@libs/persistence';
import { ADMIN_API_ENV, type AdminApiEnv } from '../admin-api.env.js';
import { AuditModule } from '../audit/audit.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { NodeStatusService } from './node-status.service.js';
import { RuntimesResolver, VersionsResolver } from './runtimes.resolver.js';
import { RuntimesService } from './runtimes.service.js';
import { VersionEventsService } from './version-events.service.js';
import { UploadCsrfGuard, VersionUploadController } from './version-upload.controller.js';
import { VersionsService } from './versions.service.js';

/** Runtimes (tenants), their members, versions (KRT upload, config, lifecycle). */
@Module({
  imports: [
    IdentityModule,
    AuditModule,
    AuthModule,
    MulterModule.registerAsync({
      inject: [ADMIN_API_ENV],
      useFactory: (env: AdminApiEnv) => {
        const dest = join(tmpdir(), `${env.KRE_PREFIX}-uploads`);
        mkdirSync(dest, { recursive: true, mode: 0o700 });
        // Streamed to disk (never whole in memory), one file, bounded.
        return {
          dest,
          limits: { fileSize: env.KRT_MAX_UPLOAD_BYTES, files: 1, fields: 10, parts: 12 },
        };
      },
    }),
  ],
  controllers: [VersionUploadController],
  providers: [
    RuntimesService,
    VersionsService,
    VersionEventsService,
    NodeStatusService,
    RuntimesResolver,
    VersionsResolver,
    UploadCsrfGuard,
  ],
})
export class RuntimesModule {}
