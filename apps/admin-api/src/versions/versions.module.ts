import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { MulterModule } from '@nestjs/platform-express';
import { ADMIN_API_ENV, type AdminApiEnv } from '../admin-api.env.js';
import { AuditModule } from '../audit/audit.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { RuntimesModule } from '../runtimes/runtimes.module.js';
import { NodeStatusService } from './node-status.service.js';
import { VersionEventsService } from './version-events.service.js';
import { UploadCsrfGuard, VersionUploadController } from './version-upload.controller.js';
import { PublishedVersionResolver, VersionsResolver } from './versions.resolver.js';
import { VersionsService } from './versions.service.js';

/** A runtime's versions: KRT upload, config, lifecycle, events and node status. */
@Module({
  imports: [
    AuditModule,
    AuthModule,
    RuntimesModule,
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
    VersionsService,
    VersionEventsService,
    NodeStatusService,
    VersionsResolver,
    PublishedVersionResolver,
    UploadCsrfGuard,
  ],
})
export class VersionsModule {}
