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

  let appEnv: Record<string, string>;

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    appEnv = {
      ...env,
      NODE_ENV: 'production',
      ADMIN_API_PORT: String(port),
      FRONTEND_URL: url,
      ADMIN_EMAIL: admin,
    };
    api = runApp('admin-api', appEnv);
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
    // The link opens the admin portal (its own scripts only); e2e/portal.e2e-spec.ts drives it.
    const opened = await fetch(link[1]);
    expect(await opened.text()).toMatch(/<div id="root"><\/div>/);
    expect(opened.headers.get('content-security-policy')).toContain("script-src 'self';");

    // A7: the page first asks whose account the link opens (consuming nothing), then verifies.
    const inspected = await post('/api/v1/auth/signin/inspect', { token: link[2] });
    expect(inspected.status).toBe(200);
    expect(await inspected.json()).toEqual({ email: admin });

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

  /** `node dist/apps/admin-api/src/main.js signin-link <email>`, as an operator runs it. */
  const signInLink = async (email: string) => {
    const command = runApp('admin-api', appEnv, ['signin-link', email]);
    let stdout = '';
    command.child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await command.exited;
    const token = new RegExp(`^${url}/signin#([A-Za-z0-9_-]{43})\\n$`).exec(stdout)?.[1];
    return { code, token, output: command.output() };
  };
  const verifiedCookie = async (token: string | undefined) => {
    const verified = await post('/api/v1/auth/signin/verify', { token });
    expect(verified.status).toBe(200);
    return verified.headers.getSetCookie()[0].split(';')[0];
  };

  it('signin-link: the operator runs `main.js signin-link <email>` on the host; the printed link signs in, no mail is sent', async () => {
    const adminLink = await signInLink(admin);
    expect(adminLink.code, adminLink.output).toBe(0);
    const adminCookie = await verifiedCookie(adminLink.token);
    const email = `operator-${env.KRE_PREFIX}@${env.KRE_PREFIX}.test`;
    const created = await gql(
      `mutation { createUser(input: {email: "${email}", platformRole: USER}) { id } }`,
      { cookie: adminCookie },
    );
    expect(created.errors).toBeUndefined();

    const link = await signInLink(email);
    expect(link.code, link.output).toBe(0);
    expect(link.output).toContain(`Sign-in link for ${email}: it works once`);
    const cookie = await verifiedCookie(link.token);
    expect(await gql('{ me { email } }', { cookie })).toEqual({ data: { me: { email } } });
    const search = await fetch(
      `${env.MAILPIT_URL}/api/v1/search?query=${encodeURIComponent(`to:"${email}"`)}&limit=1`,
    );
    expect(((await search.json()) as { messages_count: number }).messages_count).toBe(0);

    const refused = await signInLink('nobody@elsewhere.example');
    expect(refused.code).toBe(1);
    expect(refused.token).toBeUndefined();
    expect(refused.output).toContain('"nobody@elsewhere.example" may not sign in');
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
