import {
  freePort,
  runApp,
  testEnv,
  waitForHttp,
  waitForMail,
  type AppProcess,
} from '@libs/testing';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The built admin-api as a process, in production mode, against real services: the whole
// sign-in through HTTP and SMTP as a person does it, then the API with cookie and token.
describe('admin-api identity, black box', () => {
  const env = testEnv();
  const admin = `admin@${env.KRE_PREFIX}.test`;
  let api: AppProcess;
  let url: string;

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    api = runApp('admin-api', {
      ...env,
      NODE_ENV: 'production',
      ADMIN_API_PORT: String(port),
      FRONTEND_URL: url,
      ADMIN_EMAIL: admin,
    });
    await waitForHttp(`${url}/livez`, api);
  });
  afterAll(async () => {
    await api.stop();
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const gql = async (query: string, headers: Record<string, string>) =>
    (await (await post('/graphql', { query }, headers)).json()) as {
      data?: Record<string, unknown>;
      errors?: { extensions: { code: string } }[];
    };

  it('signs a person in with the emailed link; a mail scanner fetching it consumes nothing', async () => {
    const requested = await post('/api/v1/auth/signin', { email: admin });
    expect(requested.status).toBe(202);
    const mail = await waitForMail(env.MAILPIT_URL, admin);
    const link = /(http:\/\/\S+\/signin#([A-Za-z0-9_-]{43}))/.exec(mail.Text)!;
    expect(link[1].startsWith(`${url}/signin#`)).toBe(true);

    // A6: scanners GET and HEAD the link; the fragment never reaches the server.
    for (const method of ['HEAD', 'GET'])
      expect((await fetch(link[1], { method })).status).toBe(200);
    expect(await (await fetch(link[1])).text()).toContain('signin/verify');

    const verified = await post('/api/v1/auth/signin/verify', { token: link[2] });
    expect(verified.status).toBe(200);
    const setCookie = verified.headers.getSetCookie()[0];
    expect(setCookie).toMatch(
      /^__Host-kre_session=[^;]+; Path=\/; Expires=[^;]+; HttpOnly; Secure; SameSite=Lax$/,
    );
    const cookie = setCookie.split(';')[0];

    const me = await gql('{ me { email platformRole } }', { cookie });
    expect(me).toEqual({ data: { me: { email: admin, platformRole: 'ADMIN' } } });

    // The API token path: generate with the cookie, then use it alone.
    const generated = await gql(
      'mutation { generateApiToken(input: {name: "e2e", expiresInDays: 1}) { token } }',
      { cookie },
    );
    const token = (generated.data!.generateApiToken as { token: string }).token;
    expect(await gql('{ me { email } }', { authorization: `Bearer ${token}` })).toEqual({
      data: { me: { email: admin } },
    });

    // Signed out: the cookie is dead on the next request.
    expect((await post('/api/v1/auth/logout', {}, { cookie })).status).toBe(200);
    expect((await gql('{ me { email } }', { cookie })).errors?.[0].extensions.code).toBe(
      'UNAUTHENTICATED',
    );

    // A2: the secrets never reach the log.
    expect(api.output()).not.toContain(link[2]);
    expect(api.output()).not.toContain(token);
  });

  it('G3: production has no introspection, and logs JSON lines', async () => {
    const result = await gql('{ __schema { types { name } } }', {});
    expect(result.errors?.[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const lines = api.output().trim().split('\n');
    for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
  });

  it('refuses the GraphQL WebSocket upgrade from a foreign Origin', async () => {
    const status = await new Promise<number>((resolve) => {
      const socket = new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', {
        headers: { origin: 'https://evil.test' },
      });
      socket.on('open', () => resolve(101));
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('error', () => undefined);
    });
    expect(status).toBe(403);
  });
});
