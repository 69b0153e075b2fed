import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './harness.js';

const ME = '{ me { id } }';

describe('sessions', () => {
  let h: Harness;
  let admin: string;
  beforeAll(async () => {
    h = await Harness.start();
    admin = await h.signIn(h.adminEmail);
  });
  afterAll(() => h.close());

  const code = async (auth: { session?: string; token?: string }) =>
    (await h.gql(ME, {}, auth)).errors?.[0]?.extensions?.code ?? 'OK';

  const token = async (session: string, name = 'ci') => {
    const result = await h.gql<{ generateApiToken: { token: string } }>(
      'mutation($input: GenerateApiTokenInput!) { generateApiToken(input: $input) { token } }',
      { input: { name, expiresInDays: 30 } },
      { session },
    );
    return result.data!.generateApiToken.token;
  };

  it('A11: after logout the cookie is refused on the next request, and the cookie is cleared', async () => {
    const { session } = await h.user('logout');
    expect(await code({ session })).toBe('OK');
    const out = await fetch(`${h.url}/api/v1/auth/logout`, {
      method: 'POST',
      headers: { cookie: `${h.cookieName}=${session}` },
    });
    expect(out.status).toBe(200);
    expect(out.headers.getSetCookie()[0]).toMatch(
      /^__Host-kre_session=; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax$/,
    );
    expect(await code({ session })).toBe('UNAUTHENTICATED');
    // Signing out twice, or without a session, is fine.
    expect((await fetch(`${h.url}/api/v1/auth/logout`, { method: 'POST' })).status).toBe(200);
  });

  it('A11: revokeUserSessions kills every session of the user at once (their API tokens stay)', async () => {
    const user = await h.user('revoke');
    const second = await h.signIn(user.email);
    const apiToken = await token(user.session);
    const revoked = await h.gql(
      'mutation($input: UsersInput!) { revokeUserSessions(input: $input) { id } }',
      { input: { userIds: [user.id], comment: 'lost laptop' } },
      { session: admin },
    );
    expect(revoked.data).toEqual({ revokeUserSessions: [{ id: user.id }] });
    expect(await code({ session: user.session })).toBe('UNAUTHENTICATED');
    expect(await code({ session: second })).toBe('UNAUTHENTICATED');
    expect(await code({ token: apiToken })).toBe('OK');
  });

  it('A11: revokeUserSessions with includeApiTokens also kills their API tokens at once (cached ones and open sockets too)', async () => {
    const user = await h.user('revoke-all');
    const other = await h.user('bystander');
    const apiToken = await token(user.session);
    const otherToken = await token(other.session);
    expect(await code({ token: apiToken })).toBe('OK'); // verified: now in the token cache
    const { client, closed } = h.ws({ connectionParams: { authorization: `Bearer ${apiToken}` } });
    await new Promise<void>((resolve) => client.on('connected', () => resolve()));

    const revoked = await h.gql(
      'mutation($input: UsersInput!) { revokeUserSessions(input: $input, includeApiTokens: true) { id } }',
      { input: { userIds: [user.id], comment: 'stolen laptop' } },
      { session: admin },
    );
    expect(revoked.data).toEqual({ revokeUserSessions: [{ id: user.id }] });
    expect(await code({ token: apiToken })).toBe('UNAUTHENTICATED');
    expect(await code({ session: user.session })).toBe('UNAUTHENTICATED');
    expect((await closed).code).toBe(4401);
    expect(
      await h.connection().db!.collection('api_tokens').countDocuments({ userId: user.id }),
    ).toBe(0);
    // Only theirs.
    expect(await code({ token: otherToken })).toBe('OK');
    expect(await code({ session: other.session })).toBe('OK');
    const entry = await h
      .connection()
      .db!.collection('user_activity')
      .findOne({ type: 'REVOKE_SESSIONS', 'vars.value': 'stolen laptop' });
    expect(entry?.vars).toContainEqual({ key: 'INCLUDE_API_TOKENS', value: 'true' });
  });

  it('A11: a removed user is refused at once, by cookie and by token', async () => {
    const user = await h.user('removed');
    const apiToken = await token(user.session);
    await h.gql(
      'mutation($input: UsersInput!) { removeUsers(input: $input) { id } }',
      { input: { userIds: [user.id], comment: 'left the company' } },
      { session: admin },
    );
    expect(await code({ session: user.session })).toBe('UNAUTHENTICATED');
    expect(await code({ token: apiToken })).toBe('UNAUTHENTICATED');
    const users = await h.gql<{ users: { id: string }[] }>(
      '{ users { id } }',
      {},
      { session: admin },
    );
    expect(users.data!.users.map((u) => u.id)).not.toContain(user.id);
  });

  it('A12: a session unused for longer than the idle timeout is refused', async () => {
    const { session } = await h.user('idle');
    h.clock.advance(29 * 60_000);
    expect(await code({ session })).toBe('OK'); // used: the idle timer restarts
    h.clock.advance(29 * 60_000);
    expect(await code({ session })).toBe('OK');
    h.clock.advance(30 * 60_000 + 1_000);
    expect(await code({ session })).toBe('UNAUTHENTICATED');
  });

  it('A12: a session kept busy still ends at its absolute expiry', async () => {
    const { session } = await h.user('absolute');
    const lifetimeMs = 24 * 3_600_000; // sessionLifetimeInDays: 1
    for (let elapsed = 0; elapsed + 25 * 60_000 < lifetimeMs; elapsed += 25 * 60_000) {
      h.clock.advance(25 * 60_000);
      expect(await code({ session })).toBe('OK');
    }
    h.clock.advance(25 * 60_000);
    expect(await code({ session })).toBe('UNAUTHENTICATED');
  });

  it('A13: a cross-site "simple" POST of a mutation with the cookie is refused, and nothing changes', async () => {
    admin = await h.signIn(h.adminEmail); // the clock moved past the earlier session
    const email = h.email('csrf');
    const mutation = `mutation { createUser(input: {email: "${email}", platformRole: ADMIN}) { id } }`;
    const attempts = [
      { 'content-type': 'text/plain', body: JSON.stringify({ query: mutation }) },
      {
        'content-type': 'application/x-www-form-urlencoded',
        body: `query=${encodeURIComponent(mutation)}`,
      },
    ];
    for (const { body, ...headers } of attempts) {
      const response = await fetch(`${h.url}/graphql`, {
        method: 'POST',
        headers: { ...headers, cookie: `${h.cookieName}=${admin}`, origin: 'https://evil.test' },
        body,
      });
      expect(response.status).toBe(400);
    }
    const form = new FormData();
    form.set('operations', JSON.stringify({ query: mutation }));
    form.set('map', '{}');
    const multipart = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { cookie: `${h.cookieName}=${admin}` },
      body: form,
    });
    expect(multipart.status).toBe(400);
    const viaGet = await fetch(`${h.url}/graphql?query=${encodeURIComponent(mutation)}`, {
      headers: { cookie: `${h.cookieName}=${admin}` },
    });
    expect(viaGet.status).toBe(400);
    expect(await h.connection().db!.collection('users').countDocuments({ email })).toBe(0);
    // The same cookie with a JSON body (which needs a CORS preflight cross-site) works.
    const json = await h.gql(mutation, {}, { session: admin });
    expect(json.errors).toBeUndefined();
    expect(await h.connection().db!.collection('users').countDocuments({ email })).toBe(1);
  });
});
