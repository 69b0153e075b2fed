import { getQueueToken } from '@nestjs/bullmq';
import { RUNTIMES_QUEUE } from '@libs/jobs';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './harness.js';

const QUOTA =
  'quota { replicas memory cpu gpus storage observabilityStorage observabilityMaxAge }';
const SET_QUOTA = `mutation($input: SetRuntimeQuotaInput!) { setRuntimeQuota(input: $input) { id ${QUOTA} } }`;

interface Quota {
  replicas: number;
  memory: string;
  cpu: string;
  gpus: number;
  storage: string;
  observabilityStorage: string;
  observabilityMaxAge: string;
}

describe('runtime quota (admin-api)', () => {
  let h: Harness;
  let admin: string;
  let member: { id: string; email: string; session: string };
  let outsider: { id: string; email: string; session: string };

  const gql = <T>(query: string, variables: Record<string, unknown> = {}, session = admin) =>
    h.gql<T>(query, variables, { session });
  const quotaOf = async (id: string, session = admin) =>
    (
      await gql<{ runtime: { quota: Quota } }>(
        `query($id: ID!) { runtime(id: $id) { ${QUOTA} } }`,
        { id, name: id },
        session,
      )
    ).data?.runtime.quota;

  beforeAll(async () => {
    // A small default, so the test sees the installation's values rather than the code's.
    h = await Harness.start({
      RUNTIME_QUOTA_REPLICAS: '6',
      RUNTIME_QUOTA_MEMORY: '3Gi',
      RUNTIME_QUOTA_CPU: '2.5',
      RUNTIME_QUOTA_GPUS: '0',
      RUNTIME_QUOTA_STORAGE: '1Gi',
      RUNTIME_QUOTA_OBS_BYTES: '256Mi',
      RUNTIME_QUOTA_OBS_MAX_AGE: '3d',
    });
    admin = await h.signIn(h.adminEmail);
    member = await h.user('quota-admin', 'USER', admin);
    outsider = await h.user('quota-outsider', 'USER', admin);
    for (const id of ['rt-quota', 'rt-other']) {
      const created = await gql(
        'mutation($id: ID!, $name: String!) { createRuntime(input: {id: $id, name: $name}) { id } }',
        { id, name: id },
      );
      expect(created.errors).toBeUndefined();
    }
    // The member is the runtime's ADMIN, but not a platform admin.
    const added = await gql(
      'mutation($input: AddRuntimeMemberInput!) { addRuntimeMember(input: $input) { userId } }',
      { input: { runtimeId: 'rt-quota', email: member.email, role: 'ADMIN' } },
    );
    expect(added.errors).toBeUndefined();
  });
  afterAll(() => h.close());

  it("gives a new runtime the installation's default, shown to its members", async () => {
    const expected = {
      replicas: 6,
      memory: '3Gi',
      cpu: '2500m',
      gpus: 0,
      storage: '1Gi',
      observabilityStorage: '256Mi',
      observabilityMaxAge: '3d',
    };
    expect(await quotaOf('rt-quota')).toEqual(expected);
    expect(await quotaOf('rt-quota', member.session)).toEqual(expected);
    // Not a member: the runtime (and its quota) does not exist for them.
    expect(await quotaOf('rt-quota', outsider.session)).toBeUndefined();
  });

  it('lets a platform admin set it, audited, and stores it on that runtime only', async () => {
    const jobs = h.get<Queue>(getQueueToken(RUNTIMES_QUEUE) as never);
    const quotaJobs = async () =>
      (await jobs.getJobs(['wait', 'delayed', 'active'])).filter((j) => j.name === 'update-quota');
    expect(await quotaJobs()).toEqual([]);
    const result = await gql<{ setRuntimeQuota: { quota: Quota } }>(SET_QUOTA, {
      input: {
        runtimeId: 'rt-quota',
        replicas: 10,
        memory: '8Gi',
        cpu: '4',
        gpus: 2,
        storage: '1536Mi',
        comment: 'bigger model',
      },
    });
    expect(result.errors).toBeUndefined();
    // The observability stream's fields were not given: unchanged, and no job to apply them.
    const expected = {
      replicas: 10,
      memory: '8Gi',
      cpu: '4',
      gpus: 2,
      storage: '1536Mi',
      observabilityStorage: '256Mi',
      observabilityMaxAge: '3d',
    };
    expect(result.data?.setRuntimeQuota.quota).toEqual(expected);
    expect(await quotaOf('rt-quota', member.session)).toEqual(expected);
    expect((await quotaOf('rt-other'))?.memory).toBe('3Gi');
    expect(await quotaJobs()).toEqual([]);
    const audit = await gql<{
      userActivityList: { items: { type: string; vars: { key: string; value: string }[] }[] };
    }>(
      'query($r: String) { userActivityList(filters: {runtimeId: $r}) { items { type vars { key value } } } }',
      { r: 'rt-quota' },
    );
    const entry = audit.data?.userActivityList.items.find((i) => i.type === 'SET_RUNTIME_QUOTA');
    expect(Object.fromEntries(entry?.vars.map((v) => [v.key, v.value]) ?? [])).toEqual({
      replicas: '10',
      memory: '8Gi',
      cpu: '4',
      gpus: '2',
      storage: '1536Mi',
      observabilityStorage: '256Mi',
      observabilityMaxAge: '3d',
      oldReplicas: '6',
      oldMemory: '3Gi',
      oldCpu: '2500m',
      oldGpus: '0',
      oldStorage: '1Gi',
      oldObservabilityStorage: '256Mi',
      oldObservabilityMaxAge: '3d',
      comment: 'bigger model',
    });

    // The observability stream's storage and age: stored, audited with the old values, and a
    // job queued for the deployer to apply them to the runtime's stream in place.
    const obs = await gql<{ setRuntimeQuota: { quota: Quota } }>(SET_QUOTA, {
      input: {
        runtimeId: 'rt-quota',
        replicas: 10,
        memory: '8Gi',
        cpu: '4',
        gpus: 2,
        storage: '1536Mi',
        observabilityStorage: '2Gi',
        observabilityMaxAge: '36h',
        comment: 'chatty model',
      },
    });
    expect(obs.errors).toBeUndefined();
    expect(obs.data?.setRuntimeQuota.quota).toEqual({
      ...expected,
      observabilityStorage: '2Gi',
      observabilityMaxAge: '36h',
    });
    expect((await quotaOf('rt-other'))?.observabilityStorage).toBe('256Mi');
    expect((await quotaJobs()).map((j) => j.data as unknown)).toEqual([
      { runtimeId: 'rt-quota', by: expect.any(String) as string },
    ]);
    const audited = await gql<{
      userActivityList: { items: { type: string; vars: { key: string; value: string }[] }[] };
    }>(
      'query($r: String) { userActivityList(filters: {runtimeId: $r}) { items { type vars { key value } } } }',
      { r: 'rt-quota' },
    );
    const vars = audited.data?.userActivityList.items
      .filter((i) => i.type === 'SET_RUNTIME_QUOTA')
      .map((i) => Object.fromEntries(i.vars.map((v) => [v.key, v.value])))
      .find((v) => v.comment === 'chatty model');
    expect(vars).toMatchObject({
      observabilityStorage: '2Gi',
      observabilityMaxAge: '36h',
      oldObservabilityStorage: '256Mi',
      oldObservabilityMaxAge: '3d',
    });
  });

  it("refuses the runtime's own ADMIN (quotas are the platform's)", async () => {
    const result = await gql(
      SET_QUOTA,
      {
        input: {
          runtimeId: 'rt-quota',
          replicas: 99,
          memory: '99Gi',
          cpu: '99',
          gpus: 9,
          storage: '9Gi',
          comment: '',
        },
      },
      member.session,
    );
    expect(result.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await quotaOf('rt-quota'))?.replicas).toBe(10);
  });

  it('names every field that is not a quantity, and changes nothing', async () => {
    const result = await gql(SET_QUOTA, {
      input: {
        runtimeId: 'rt-quota',
        replicas: -1,
        memory: '8GB',
        cpu: 'lots',
        gpus: 0,
        storage: '0',
        comment: '',
      },
    });
    expect(result.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    const fields = (result.errors?.[0].extensions?.errors as { field: string }[]).map(
      (e) => e.field,
    );
    // class-validator answers first (the number); the quantities are read once it passes.
    expect(fields).toEqual(['input.replicas']);
    const quantities = await gql(SET_QUOTA, {
      input: {
        runtimeId: 'rt-quota',
        replicas: 1,
        memory: '8GB',
        cpu: 'lots',
        gpus: 0,
        storage: '0',
        observabilityStorage: '512Ki',
        observabilityMaxAge: '7 days',
        comment: '',
      },
    });
    expect(quantities.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      errors: [
        { field: 'input.memory', message: expect.stringContaining('"512Mi"') as string },
        { field: 'input.cpu', message: expect.stringContaining('"250m"') as string },
        { field: 'input.storage', message: 'must be more than zero, not "0"' },
        { field: 'input.observabilityStorage', message: 'must be at least 1Mi, not "512Ki"' },
        {
          field: 'input.observabilityMaxAge',
          message: expect.stringContaining('"36h"') as string,
        },
      ],
    });
    const tooShort = await gql(SET_QUOTA, {
      input: {
        runtimeId: 'rt-quota',
        replicas: 1,
        memory: '1Gi',
        cpu: '1',
        gpus: 0,
        storage: '1Gi',
        observabilityMaxAge: '30s',
        comment: '',
      },
    });
    expect(tooShort.errors?.[0].extensions).toMatchObject({
      errors: [{ field: 'input.observabilityMaxAge', message: 'must be at least 1m, not "30s"' }],
    });
    expect((await quotaOf('rt-quota'))?.memory).toBe('8Gi');
  });

  it('answers NOT_FOUND for a runtime that does not exist', async () => {
    const result = await gql(SET_QUOTA, {
      input: {
        runtimeId: 'rt-none',
        replicas: 1,
        memory: '1Gi',
        cpu: '1',
        gpus: 0,
        storage: '1Gi',
        comment: '',
      },
    });
    expect(result.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });
});
