import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApiTokensRepository } from '@libs/persistence';
import { API_TOKEN_PATTERN } from '../src/common/secrets.js';
import { Harness } from './harness.js';

const GENERATE = `mutation($input: GenerateApiTokenInput!) {
  generateApiToken(input: $input) { token apiToken { id name creationDate expiresAt lastUsedAt } }
}`;
const DELETE =
  'mutation($input: DeleteApiTokenInput!) { deleteApiToken(input: $input) { id name } }';

interface Generated {
  generateApiToken: {
    token: string;
    apiToken: { id: string; name: string; lastUsedAt: string | null };
  };
}

describe('API tokens', () => {
  let h: Harness;
  let admin: string;
  beforeAll(async () => {
    h = await Harness.start({ API_TOKEN_MAX_DAYS: '90' });
    admin = await h.signIn(h.adminEmail);
  });
  afterAll(() => h.close());

  const generate = (session: string, name: string, expiresInDays = 30) =>
    h.gql<Generated>(GENERATE, { input: { name, expiresInDays } }, { session });
  const me = (token: string) => h.gql<{ me: { email: string } }>('{ me { email } }', {}, { token });

  it('authenticates GraphQL with Authorization: Bearer, as the token owner', async () => {
    const user = await h.user('bearer');
    const { token } = (await generate(user.session, 'cli')).data!.generateApiToken;
    expect(token).toMatch(/^kre_[0-9A-Za-z]{38}$/);
    expect((await me(token)).data).toEqual({ me: { email: user.email } });
  });

  it('T1: a token with one character changed gets UNAUTHENTICATED without a database lookup', async () => {
    const { token } = (await generate(admin, 't1')).data!.generateApiToken;
    const lookups = vi.spyOn(ApiTokensRepository.prototype, 'findByHash');
    try {
      const mutated = token.slice(0, 10) + (token[10] === 'A' ? 'B' : 'A') + token.slice(11);
      const result = await me(mutated);
      expect(result.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
      expect(lookups).not.toHaveBeenCalled();
      await me(token);
      expect(lookups).toHaveBeenCalledTimes(1);
    } finally {
      lookups.mockRestore();
    }
  });

  it('T2: the secret is in the generate answer only: not in lists, the database or the logs', async () => {
    const result = await generate(admin, 't2');
    const { token, apiToken } = result.data!.generateApiToken;
    const lists = await h.gql(
      '{ apiTokens { id name creationDate expiresAt lastUsedAt } me { apiTokens { id name } } }',
      {},
      { session: admin },
    );
    expect(JSON.stringify(lists)).not.toContain(token);
    expect(JSON.stringify(lists)).toContain(apiToken.id);
    const docs = await h.connection().db!.collection('api_tokens').find().toArray();
    expect(JSON.stringify(docs)).not.toContain(token);
    expect(JSON.stringify(docs).match(API_TOKEN_PATTERN)).toBeNull();
    for (const doc of docs) expect(doc._id).toMatch(/^[0-9a-f]{64}$/);
    expect(h.logs.text()).not.toContain(token);
  });

  it('T4: an expired token is refused; lastUsedAt is written at most once a minute', async () => {
    const { token, apiToken } = (await generate(admin, 't4', 2)).data!.generateApiToken;
    expect(apiToken.lastUsedAt).toBeNull();
    const lastUsed = async () =>
      (
        await h.gql<{ apiTokens: { id: string; lastUsedAt: string | null }[] }>(
          '{ apiTokens { id lastUsedAt } }',
          {},
          { session: admin },
        )
      ).data!.apiTokens.find((t) => t.id === apiToken.id)!.lastUsedAt;

    const first = h.clock.now().toISOString();
    await me(token);
    h.clock.advance(20_000);
    await me(token);
    h.clock.advance(20_000);
    await me(token);
    expect(await lastUsed()).toBe(first);
    h.clock.advance(21_000);
    await me(token);
    expect(await lastUsed()).toBe(h.clock.now().toISOString());

    h.clock.advance(2 * 86_400_000);
    expect((await me(token)).errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    admin = await h.signIn(h.adminEmail); // the old session idled out meanwhile
  });

  it('T4: a deleted token is refused on the next request', async () => {
    const { token, apiToken } = (await generate(admin, 'deleted')).data!.generateApiToken;
    expect((await me(token)).data).toBeTruthy();
    const deleted = await h.gql(DELETE, { input: { id: apiToken.id } }, { session: admin });
    expect(deleted.data).toEqual({ deleteApiToken: { id: apiToken.id, name: 'deleted' } });
    expect((await me(token)).errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  it("deletes your own tokens only: another user's looks like one that does not exist", async () => {
    const owner = await h.user('owner');
    const other = await h.user('other');
    const { apiToken } = (await generate(owner.session, 'mine')).data!.generateApiToken;
    const theirs = await h.gql(DELETE, { input: { id: apiToken.id } }, { session: other.session });
    const missing = await h.gql(
      DELETE,
      { input: { id: 'no-such-token' } },
      { session: other.session },
    );
    expect(theirs.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect(theirs.errors?.[0].message).toBe(`apiToken "${apiToken.id}" not found`);
    expect(missing.errors?.[0].message).toBe('apiToken "no-such-token" not found');
    // A platform admin may delete anyone's.
    expect(
      (await h.gql(DELETE, { input: { id: apiToken.id } }, { session: admin })).data,
    ).toBeTruthy();
  });

  it('requires unique names per user, an expiry, and at most API_TOKEN_MAX_DAYS', async () => {
    const user = await h.user('names');
    expect((await generate(user.session, 'dup')).data).toBeTruthy();
    const again = await generate(user.session, 'dup');
    expect(again.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', name: 'dup' });
    expect((await generate(admin, 'dup')).data).toBeTruthy(); // names are per user

    const tooLong = await generate(user.session, 'long', 91);
    expect(tooLong.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      errors: [
        { field: 'input.expiresInDays', message: 'must be at most 90 (API_TOKEN_MAX_DAYS)' },
      ],
    });
    const invalid = await h.gql(
      GENERATE,
      { input: { name: '', expiresInDays: 0 } },
      { session: user.session },
    );
    expect(invalid.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      errors: [
        { field: 'input.name', message: 'must be 1 to 64 letters, digits, spaces or _ . : @ -' },
        { field: 'input.expiresInDays', message: 'must be at least 1' },
      ],
    });
    const missing = await h.gql(
      'mutation { generateApiToken(input: {name: "x"}) { token } }',
      {},
      { session: user.session },
    );
    expect(missing.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it("a token follows its user's platform role on the next request (no stale cached role)", async () => {
    const user = await h.user('promoted');
    const { token } = (await generate(user.session, 'role')).data!.generateApiToken;
    const users = async () =>
      (await h.gql('{ users { id } }', {}, { token })).errors?.[0]?.extensions?.code ?? 'OK';
    expect(await users()).toBe('FORBIDDEN');
    const setRole = (platformRole: string) =>
      h.gql(
        'mutation($input: UpdatePlatformRoleInput!) { updatePlatformRole(input: $input) { id } }',
        { input: { userIds: [user.id], platformRole, comment: 'test' } },
        { session: admin },
      );
    await setRole('ADMIN');
    expect(await users()).toBe('OK');
    await setRole('USER');
    expect(await users()).toBe('FORBIDDEN');
  });

  it('minting needs a recent sign-in: a session older than TOKEN_MINT_MAX_SESSION_AGE_MINUTES (15) is told to sign in again', async () => {
    const user = await h.user('stale');
    h.clock.advance(14 * 60_000 + 59_000);
    expect((await generate(user.session, 'fresh')).data).toBeTruthy();
    h.clock.advance(2_000); // 15:01 after the sign-in; the session itself is still valid
    const stale = await generate(user.session, 'stale');
    expect(stale.data).toBeNull();
    expect(stale.errors?.[0].message).toBe(
      'generating an API token needs a sign-in from the last 15 minutes (TOKEN_MINT_MAX_SESSION_AGE_MINUTES): sign in again, then retry',
    );
    expect(stale.errors?.[0].extensions).toMatchObject({
      code: 'FORBIDDEN',
      reason: 'RECENT_SIGN_IN_REQUIRED',
      maxSessionAgeMinutes: 15,
    });
    expect((await h.gql('{ me { id } }', {}, { session: user.session })).data).toEqual({
      me: { id: user.id },
    });
    const again = await h.signIn(user.email);
    expect((await generate(again, 'stale')).data).toBeTruthy();
    const names = await h.gql<{ apiTokens: { name: string }[] }>(
      '{ apiTokens { name } }',
      {},
      { session: again },
    );
    expect(names.data!.apiTokens.map((t) => t.name).sort()).toEqual(['fresh', 'stale']);
  });

  it('an API token cannot mint API tokens, and the error says why', async () => {
    const user = await h.user('minter');
    const { token } = (await generate(user.session, 'parent')).data!.generateApiToken;
    const child = await h.gql<Generated>(
      GENERATE,
      { input: { name: 'child', expiresInDays: 1 } },
      { token },
    );
    expect(child.data).toBeNull();
    expect(child.errors?.[0].message).toBe(
      'generating an API token needs a signed-in session: an API token cannot do it',
    );
    expect(child.errors?.[0].extensions).toMatchObject({
      code: 'FORBIDDEN',
      reason: 'SESSION_REQUIRED',
    });
    const names = await h.gql<{ apiTokens: { name: string }[] }>(
      '{ apiTokens { name } }',
      {},
      { session: user.session },
    );
    expect(names.data!.apiTokens.map((t) => t.name)).toEqual(['parent']);
  });

  it('a bad token is refused even when a valid session cookie comes with it', async () => {
    const result = await h.gql(
      '{ me { id } }',
      {},
      { session: admin, headers: { authorization: 'Bearer kre_notavalidtoken' } },
    );
    expect(result.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });
});
