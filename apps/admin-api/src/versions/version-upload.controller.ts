import { rm } from 'node:fs/promises';
import { BadUserInputError, ForbiddenError, RuntimeRole } from '@libs/core';
import {
  type CanActivate,
  Controller,
  type ExecutionContext,
  HttpCode,
  Injectable,
  Param,
  Post,
  UploadedFile,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { FileInterceptor } from '@nestjs/platform-express';
import { CurrentUser, RequireRuntimeRole } from '../auth/access.decorators.js';
import { type AuthenticatedRequest, type Principal, principalOf } from '../auth/principal.js';
import { VersionsService } from './versions.service.js';

/**
 * Multipart forms are "simple" requests a foreign page may send with the user's cookie: a
 * cookie-authenticated upload must carry a header such a page cannot set. Bearer tokens are
 * not sent by browsers on their own, so they need nothing more.
 */
@Injectable()
export class UploadCsrfGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const principal = principalOf(context);
    if (principal?.via !== 'session') return true;
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (req.headers['x-requested-with'] || req.headers['apollo-require-preflight']) return true;
    throw new ForbiddenError(
      'a cookie-authenticated upload needs an "X-Requested-With" or "Apollo-Require-Preflight" header (or use an API token)',
    );
  }
}

interface UploadedKrt {
  path: string;
  size: number;
}

/** `POST /api/v1/runtimes/:runtimeId/versions`, multipart field `file`: a .krt, streamed to disk. */
@Controller('api/v1/runtimes/:runtimeId/versions')
export class VersionUploadController {
  constructor(private readonly versions: VersionsService) {}

  @Post()
  @HttpCode(201)
  @RequireRuntimeRole(RuntimeRole.MANAGER, 'runtimeId')
  // Guards run before the interceptor: nobody unauthorised gets a byte written to disk.
  @UseGuards(UploadCsrfGuard)
  @UseInterceptors(FileInterceptor('file'))
  async upload(
    @Param('runtimeId') runtimeId: string,
    @UploadedFile() file: UploadedKrt | undefined,
    @CurrentUser() me: Principal,
  ): Promise<{
    runtimeId: string;
    name: string;
    status: string;
    krtVersion: string;
    workflows: string[];
  }> {
    if (!file) {
      throw new BadUserInputError([
        { field: 'file', message: 'attach the .krt as the multipart field "file"' },
      ]);
    }
    try {
      const version = await this.versions.upload(me, runtimeId, file.path);
      return {
        runtimeId,
        name: version.name,
        status: version.status,
        krtVersion: version.krt.krtVersion,
        workflows: version.krt.workflows.map((w) => w.name),
      };
    } finally {
      await rm(file.path, { force: true });
    }
  }
}
