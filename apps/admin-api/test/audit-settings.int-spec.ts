import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './harness.js';

interface Activity {
  id: string;
  type: string;
  userEmail: string;
  date: string;
  runtimeId: string | null;
  vars: { key: string; value: string }[];
}

const LIST = `query($filters: UserActivityFilters, $cursor: String, $limit: Int) {
  userActivityList(filters: $filters, cursor: $cursor, limit: $limit) {
    cursor items { id type userEmail date runtimeId vars { key value } }
  }
}`;

const vars = (a: Activity) => Object.fromEntries(a.vars.map((v) => [v.key, v.value]));

describe('audit log and settings', () => {
  let h: Harness;
  let admin: string;
  beforeAll(async () => {
    h = await Harness.start();
    admin = await h.signIn(h.adminEmail);
  });
  afterAll(() => h.close());

  const list = async (variables: Record<string, unknown>) => {
    const result = await h.gql<{ userActivityList: { cursor: string | null; items: Activity[] } }>(
      LIST,
      variables,
      { session: admin },
    );
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    return result.data!.userActivityList;
  };

  it('records every mutation and sign-in event, newest first', async () => {
    const user = await h.user('audited', 'USER', admin);
    const generated = await h.gql(
      'mutation { generateApiToken(input: {name: "t", expiresInDays: 1}) { apiToken { id } } }',
      {},
      { session: user.session },
    );
    expect(generated.errors).toBeUndefined();
    await fetch(`${h.url}/api/v1/auth/logout`, {
      method: 'POST',
      headers: { cookie: `${h.cookieName}=${user.session}` },
    });
    const { items } = await list({ filters: { userEmail: user.email } });
    expect(items.map((a) => a.type)).toEqual([
      'LOGOUT',
      'GENERATE_API_TOKEN',
      'LOGIN',
      'SIGN_IN_LINK_SENT',
    ]);
    const created = (await list({ filters: { types: ['CREATE_USER'] } })).items[0];
    expect(created.userEmail).toBe(h.adminEmail);
    expect(vars(created)).toMatchObject({
      CREATED_USER_EMAIL: user.email,
      CREATED_USER_PLATFORM_ROLE: 'USER',
    });
    const dates = (await list({})).items.map((a) => a.date);
    expect([...dates].sort().reverse()).toEqual(dates);
  });

  it('pages with a cursor and filters by type, runtime and date range', async () => {
    const first = await list({ limit: 2 });
    expect(first.items).toHaveLength(2);
    const second = await list({ limit: 2, cursor: first.cursor });
    expect(second.items[0].id < first.items[1].id).toBe(true);
    const everything = await list({ limit: 100 });
    expect(everything.cursor).toBeNull();

    const from = h.clock.now().toISOString();
    h.clock.advance(60_000);
    await h.gql(
      'mutation { updateSettings(input: {sessionIdleMinutes: 45}) { sessionIdleMinutes } }',
      {},
      { session: admin },
    );
    const to = h.clock.now().toISOString();
    h.clock.advance(60_000);
    await h.gql(
      'mutation { updateSettings(input: {sessionIdleMinutes: 30}) { sessionIdleMinutes } }',
      {},
      { session: admin },
    );
    const window = await list({
      filters: { fromDate: from, toDate: to, types: ['UPDATE_SETTING'] },
    });
    expect(window.items.map(vars)).toEqual([
      { SETTING_NAME: 'sessionIdleMinutes', OLD_VALUE: '30', NEW_VALUE: '45' },
    ]);
    expect((await list({ filters: { runtimeId: 'rt-none' } })).items).toEqual([]);
    const bad = await h.gql(LIST, { cursor: 'garbage' }, { session: admin });
    expect(bad.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      errors: [{ field: 'cursor', message: 'is not a cursor this API returned' }],
    });
  });

  it('audits each changed setting with its old and new value; concurrent updates chain up', async () => {
    const update = (input: Record<string, unknown>) =>
      h.gql<{ updateSettings: Record<string, unknown> }>(
        'mutation($input: SettingsInput!) { updateSettings(input: $input) { authAllowedDomains sessionLifetimeInDays sessionIdleMinutes signInLinkTtlMinutes } }',
        { input },
        { session: admin },
      );
    const changed = await update({
      authAllowedDomains: ['Example.COM', 'kre.dev'],
      sessionLifetimeInDays: 1,
    });
    expect(changed.data?.updateSettings).toEqual({
      authAllowedDomains: ['example.com', 'kre.dev'],
      sessionLifetimeInDays: 1,
      sessionIdleMinutes: 30,
      signInLinkTtlMinutes: 10,
    });
    const [domains] = (await list({ filters: { types: ['UPDATE_SETTING'] }, limit: 1 })).items;
    expect(vars(domains)).toEqual({
      SETTING_NAME: 'authAllowedDomains',
      OLD_VALUE: '',
      NEW_VALUE: 'example.com,kre.dev',
    });

    await Promise.all([2, 3, 4, 5, 6].map((minutes) => update({ signInLinkTtlMinutes: minutes })));
    const chain = (await list({ filters: { types: ['UPDATE_SETTING'] }, limit: 5 })).items
      .map(vars)
      .reverse();
    expect(chain[0].OLD_VALUE).toBe('10');
    for (let i = 1; i < chain.length; i++) expect(chain[i].OLD_VALUE).toBe(chain[i - 1].NEW_VALUE);
    const settings = await h.gql<{ settings: { signInLinkTtlMinutes: number } }>(
      '{ settings { signInLinkTtlMinutes } }',
      {},
      { session: admin },
    );
    expect(String(settings.data!.settings.signInLinkTtlMinutes)).toBe(chain.at(-1)!.NEW_VALUE);
  });

  it('applies signInLinkTtlMinutes to new links', async () => {
    await h.gql(
      'mutation { updateSettings(input: {signInLinkTtlMinutes: 2}) { signInLinkTtlMinutes } }',
      {},
      { session: admin },
    );
    await h.requestLink(h.adminEmail);
    const mail = await h.nextMail(h.adminEmail);
    expect(mail.Text).toContain('in the next 2 minutes');
    h.clock.advance(2 * 60_000 + 1_000);
    const token = /\/signin#([A-Za-z0-9_-]{43})/.exec(mail.Text)![1];
    expect((await h.verify(token)).status).toBe(400);
  });
});
