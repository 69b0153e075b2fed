import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdminApiEnv, AuthConfig } from '../admin-api.env.js';

/**
 * Where the built portal is: PORTAL_DIR, or dist/admin-ui found from this file (compiled:
 * dist/apps/admin-api/src/portal → dist/admin-ui; from source, as the tests run it:
 * apps/admin-api/src/portal → dist/admin-ui of the repository).
 */
export function portalDir(env: Pick<AdminApiEnv, 'PORTAL_DIR'>): string {
  if (env.PORTAL_DIR) return resolve(env.PORTAL_DIR);
  const candidates = ['../../../../admin-ui', '../../../../dist/admin-ui'].map((relative) =>
    fileURLToPath(new URL(relative, import.meta.url)),
  );
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[0];
}

/**
 * The portal's Content-Security-Policy: its own scripts, styles and images only (Vite's build
 * has no inline script), API calls and the GraphQL WebSocket to this origin (the `ws:`/`wss:`
 * forms of the frontend origins are listed because older browsers do not let 'self' match
 * them), no plugins, no framing, no <base>, forms posting nowhere else.
 */
export function portalCsp(config: Pick<AuthConfig, 'frontendOrigins'>): string {
  const sockets = config.frontendOrigins.map((origin) => origin.replace(/^http/, 'ws'));
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self' ${sockets.join(' ')}`.trim(),
    "manifest-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
  ].join('; ');
}

/** The headers of every portal response (the page and its assets). */
export function portalHeaders(config: Pick<AuthConfig, 'frontendOrigins'>): Record<string, string> {
  return {
    'Content-Security-Policy': portalCsp(config),
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
  };
}

/**
 * The built portal's files. index.html is read on each request (a few hundred bytes): after a
 * rebuild it names the new assets at once, with no restart.
 */
export class PortalFiles {
  constructor(readonly dir: string) {}

  /** index.html, or null when the portal is not built. */
  async indexHtml(): Promise<string | null> {
    try {
      return await readFile(join(this.dir, 'index.html'), 'utf8');
    } catch {
      return null;
    }
  }

  get assetsDir(): string {
    return join(this.dir, 'assets');
  }
}
