import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './harness.js';

const INDEX = `<!doctype html><html><head><script type="module" src="/assets/index-AbC123.js"></script></head><body><div id="root"></div></body></html>`;
const SCRIPT = 'console.log("portal");';

/**
 * admin-api serving the built portal (a stand-in build in a temp folder, as `vite build`
 * lays it out): the page at / and every portal route, /signin included (where mailed links
 * point), its assets, and a strict CSP on all of them; the API routes keep answering.
 */
describe('admin-api serves the portal', () => {
  let h: Harness;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kre-portal-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), INDEX);
    await writeFile(join(dir, 'assets', 'index-AbC123.js'), SCRIPT);
    await writeFile(join(dir, '.env'), 'SECRET=1');
    h = await Harness.start({ PORTAL_DIR: dir });
  });
  afterAll(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers the page at / and each portal route, /signin included, never cached', async () => {
    for (const path of [
      '/',
      '/signin',
      '/runtimes',
      '/runtimes/rt-1/versions/v1/logs',
      '/tokens',
      '/admin',
    ]) {
      const response = await fetch(`${h.url}${path}`);
      expect({ path, status: response.status }).toEqual({ path, status: 200 });
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(await response.text()).toBe(INDEX);
    }
  });

  it('sends a strict Content-Security-Policy: own scripts only, API and WebSocket to this origin', async () => {
    const response = await fetch(`${h.url}/signin`);
    const csp = response.headers.get('content-security-policy')!;
    const directives = new Map(
      csp.split(';').map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name, values] as const;
      }),
    );
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('style-src')).toEqual(["'self'"]);
    expect(directives.get('connect-src')).toEqual(["'self'", h.url.replace('http', 'ws')]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(directives.get('base-uri')).toEqual(["'none'"]);
    expect(directives.get('object-src')).toEqual(["'none'"]);
    expect(csp).not.toContain('unsafe');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('serves the hashed assets for good, and nothing else from the folder', async () => {
    const asset = await fetch(`${h.url}/assets/index-AbC123.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await asset.text()).toBe(SCRIPT);
    for (const path of [
      '/assets/missing-1.js',
      '/assets/..%2Findex.html',
      '/assets/.env',
      '/.env',
      '/index.html',
    ]) {
      const response = await fetch(`${h.url}${path}`);
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
    }
  });

  it('keeps the API routes: /health, GraphQL, and sign-in JSON', async () => {
    expect((await fetch(`${h.url}/health`)).status).toBe(200);
    const anonymous = await h.gql('{ me { email } }', {});
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const link = await h.post('/api/v1/auth/signin', { email: h.adminEmail });
    expect(link.status).toBe(202);
  });
});

describe('admin-api without a built portal', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ PORTAL_DIR: join(tmpdir(), 'kre-portal-missing-build') });
  });
  afterAll(() => h.close());

  it('says how to build it, at /signin too, and the API still answers', async () => {
    const response = await fetch(`${h.url}/signin`);
    expect(response.status).toBe(503);
    expect(await response.text()).toMatch(/admin portal is not built .*run `npm run build`/);
    expect((await fetch(`${h.url}/health`)).status).toBe(200);
  });
});
