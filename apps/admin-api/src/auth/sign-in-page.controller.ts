import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import { PortalService } from '../portal/portal.service.js';
import { Public } from './access.decorators.js';

/**
 * `/signin`, where mailed links point (`/signin#<token>`): the admin portal's sign-in page. In
 * the browser it reads the token from the URL fragment (which never reaches a server, so a mail
 * scanner fetching the link consumes nothing), asks whose account the link opens
 * (POST signin/inspect consumes nothing) and signs in only when the person clicks: a link someone
 * else requested (login CSRF) cannot sign this browser into their account unseen. Programs
 * (curl, the CLI) POST /api/v1/auth/signin/verify directly.
 */
@Controller('signin')
export class SignInPageController {
  constructor(private readonly portal: PortalService) {}

  @Get()
  @Public()
  page(@Res() res: Response): Promise<void> {
    return this.portal.sendPage(res);
  }
}
