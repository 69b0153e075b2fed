import { Controller, Get, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Public } from '../auth/access.decorators.js';
import { PortalService } from './portal.service.js';

/**
 * The admin portal (apps/admin-ui, built into dist/admin-ui): its page at each of its routes
 * (/signin is SignInPageController's, the mailed link's path) and its assets. Public: the page
 * holds no data; what it shows comes from the API with the session cookie.
 */
@Controller()
export class PortalController {
  constructor(private readonly portal: PortalService) {}

  @Get(['/', 'runtimes', 'runtimes/*path', 'tokens', 'admin'])
  @Public()
  page(@Res() res: Response): Promise<void> {
    return this.portal.sendPage(res);
  }

  @Get('assets/:name')
  @Public()
  asset(@Param('name') name: string, @Res() res: Response): void {
    this.portal.sendAsset(name, res);
  }
}
