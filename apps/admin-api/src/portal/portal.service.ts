import { basename } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { ADMIN_API_ENV, type AdminApiEnv, type AuthConfig } from '../admin-api.env.js';
import { AUTH_CONFIG } from '../admin-api.tokens.js';
import { PortalFiles, portalDir, portalHeaders } from './portal-files.js';

/** Vite's asset names: `<name>-<hash>.<ext>`, one folder, nothing else is served. */
const ASSET = /^[\w.-]+\.(js|css|svg|png|woff2?|ico|json|map)$/;

/** Answers the portal's page (any of its routes) and its hashed assets. */
@Injectable()
export class PortalService {
  private readonly files: PortalFiles;
  private readonly headers: Record<string, string>;

  constructor(@Inject(ADMIN_API_ENV) env: AdminApiEnv, @Inject(AUTH_CONFIG) config: AuthConfig) {
    this.files = new PortalFiles(portalDir(env));
    this.headers = portalHeaders(config);
  }

  /** index.html (the app routes itself), never cached: a new build's assets are found at once. */
  async sendPage(res: Response): Promise<void> {
    const html = await this.files.indexHtml();
    res.set(this.headers);
    if (html === null) {
      res
        .status(503)
        .type('text/plain')
        .send(
          `The admin portal is not built (no index.html in ${this.files.dir}): run \`npm run build\`. The API answers at /graphql.\n`,
        );
      return;
    }
    res.set('Cache-Control', 'no-store').type('html').send(html);
  }

  /** A built asset: its name carries its hash, so it is cached for good. */
  sendAsset(name: string, res: Response): void {
    res.set(this.headers);
    if (!ASSET.test(name) || basename(name) !== name) {
      res.status(404).type('text/plain').send('no such asset\n');
      return;
    }
    res.sendFile(
      name,
      { root: this.files.assetsDir, dotfiles: 'deny', immutable: true, maxAge: '365d' },
      (error) => {
        if (error && !res.headersSent) res.status(404).type('text/plain').send('no such asset\n');
      },
    );
  }
}
