import { Names } from '@libs/naming';
import { ObsRetentionStore } from '@libs/observability';
import { MembershipsRepository } from '@libs/persistence';
import { testPrefix } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../../test/harness.js';

const GET =
  'query($r: ID!) { observabilityRetention(runtimeId: $r) { runtimeId days isDefault updatedBy } }';
const SET = `mutation($input: SetObservabilityRetentionInput!) {
  setObservabilityRetention(input: $input) { runtimeId days isDefault updatedBy }
}`;

describe('observabilityRetention and setObservabilityRetention', () => {
  const prefix = testPrefix();
  let h: Harness;
  let rtAdmin: { id: string; session: string };
  let viewer: { id: string; session: string };
  let outsider: { id: string; session: string };
  const store = () =>
    new ObsRetentionStore(h.connection().getClient().db(new Names(prefix).platformDb()));

  beforeAll(async () => {
    h = await Harness.start({ KRE_PREFIX: prefix, OBS_RETENTION_DAYS: '14' });
    const admin = await h.signIn(h.adminEmail);
    [rtAdmin, viewer, outsider] = [
      await h.user('rt-admin', 'USER', admin),
      await h.user('viewer', 'USER', admin),
      await h.user('outsider', 'USER', admin),
    ];
    const members = h.get(MembershipsRepository);
    await members.put('rt-r', rtAdmin.id, 'ADMIN', h.clock.now());
    await members.put('rt-r', viewer.id, 'VIEWER', h.clock.now());
    await members.put('rt-o', outsider.id, 'ADMIN', h.clock.now());
  });
  afterAll(() => h?.close());

  it("shows the installation default until the runtime's ADMIN sets its own, which mongo-writer reads", async () => {
    const before = await h.gql(GET, { r: 'rt-r' }, { session: viewer.session });
    expect(before.data).toEqual({
      observabilityRetention: { runtimeId: 'rt-r', days: 14, isDefault: true, updatedBy: null },
    });
    const set = await h.gql(SET, { input: { runtimeId: 'rt-r', days: 7 } }, rtAdmin);
    expect(set.data).toEqual({
      setObservabilityRetention: {
        runtimeId: 'rt-r',
        days: 7,
        isDefault: false,
        updatedBy: rtAdmin.id,
      },
    });
    expect(await store().all()).toEqual(new Map([['rt-r', 7]]));
    const reset = await h.gql(SET, { input: { runtimeId: 'rt-r', days: null } }, rtAdmin);
    expect(reset.data).toMatchObject({ setObservabilityRetention: { days: 14, isDefault: true } });
    expect(await store().all()).toEqual(new Map());
    // Both changes are in the runtime's audit log, with the values before and after.
    const audit = await h.gql(
      `query { userActivityList(filters: { runtimeId: "rt-r", types: [UPDATE_RUNTIME] }) {
        items { userEmail vars { key value } } } }`,
      {},
      rtAdmin,
    );
    const vars = (
      audit.data as { userActivityList: { items: { vars: { key: string; value: string }[] }[] } }
    ).userActivityList.items.map((i) => Object.fromEntries(i.vars.map((v) => [v.key, v.value])));
    expect(vars).toEqual([
      { FIELD: 'observabilityRetentionDays', OLD_VALUE: '7', NEW_VALUE: '14 (default)' },
      { FIELD: 'observabilityRetentionDays', OLD_VALUE: '14 (default)', NEW_VALUE: '7' },
    ]);
  });

  it('refuses a VIEWER, a member of another runtime and days out of bounds', async () => {
    const byViewer = await h.gql(SET, { input: { runtimeId: 'rt-r', days: 3 } }, viewer);
    expect(byViewer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const byOutsider = await h.gql(SET, { input: { runtimeId: 'rt-r', days: 3 } }, outsider);
    expect(byOutsider.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const read = await h.gql(GET, { r: 'rt-r' }, outsider);
    expect(read.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const tooLong = await h.gql(SET, { input: { runtimeId: 'rt-r', days: 366 } }, rtAdmin);
    expect(tooLong.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      errors: [{ field: 'input.days', message: 'must be at most 365' }],
    });
    expect(await store().all()).toEqual(new Map());
  });
});
