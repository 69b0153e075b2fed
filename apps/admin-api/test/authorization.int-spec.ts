import { ModulesContainer } from '@nestjs/core';
import { GraphQLSchemaHost, RESOLVER_TYPE_METADATA } from '@nestjs/graphql';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_KEY } from '../src/auth/access.decorators.js';
import { AuditService } from '../src/audit/audit.service.js';
import { firstEvent, Harness } from './harness.js';

interface Member {
  id: string;
  email: string;
  session: string;
}

describe('authorization', () => {
  let h: Harness;
  let admin: string;
  let a: Member; // ADMIN of runtime rt-a (tenant A)
  let b: Member; // ADMIN of runtime rt-b (tenant B)
  let bToken: { id: string; token: string };
  let bKey: { id: string }; // an invocation key of rt-b

  beforeAll(async () => {
    h = await Harness.start();
    admin = await h.signIn(h.adminEmail);
    a = await h.user('tenant-a', 'USER', admin);
    b = await h.user('tenant-b', 'USER', admin);
    // Real runtimes; A and B are ADMIN members of one each. rt-c has A as a VIEWER only.
    for (const [id, member, role] of [
      ['rt-a', a, 'ADMIN'],
      ['rt-b', b, 'ADMIN'],
      ['rt-c', a, 'VIEWER'],
    ] as const) {
      const created = await h.gql(
        'mutation($id: ID!, $name: String!) { createRuntime(input: {id: $id, name: $name}) { id } }',
        { id, name: id },
        { session: admin },
      );
      if (created.errors) throw new Error(JSON.stringify(created.errors));
      const added = await h.gql(
        'mutation($input: AddRuntimeMemberInput!) { addRuntimeMember(input: $input) { userId } }',
        { input: { runtimeId: id, email: member.email, role } },
        { session: admin },
      );
      if (added.errors) throw new Error(JSON.stringify(added.errors));
    }
    const audit = h.get(AuditService);
    for (const [user, runtimeId] of [
      [a, 'rt-a'],
      [b, 'rt-b'],
      [b, 'rt-b'],
    ] as const) {
      await audit.record({
        type: 'CREATE_VERSION',
        user,
        runtimeId,
        vars: { SECRET_OF: runtimeId },
      });
    }
    const generated = await h.gql<{
      generateApiToken: { token: string; apiToken: { id: string } };
    }>(
      'mutation { generateApiToken(input: {name: "b", expiresInDays: 5}) { token apiToken { id } } }',
      {},
      { session: b.session },
    );
    bToken = {
      id: generated.data!.generateApiToken.apiToken.id,
      token: generated.data!.generateApiToken.token,
    };
    const key = await h.gql<{ createInvocationKey: { invocationKey: { id: string } } }>(
      'mutation { createInvocationKey(runtimeId: "rt-b", input: {name: "b"}) { invocationKey { id } } }',
      {},
      { session: b.session },
    );
    bKey = { id: key.data!.createInvocationKey.invocationKey.id };
  });
  afterAll(() => h.close());

  const errorOf = (result: {
    errors?: { message: string; extensions?: Record<string, unknown> }[];
  }) =>
    result.errors?.[0]
      ? { code: result.errors[0].extensions?.code, message: result.errors[0].message }
      : null;

  /** B can still use what A tried to touch. */
  const bIsIntact = async () => {
    expect((await h.gql('{ me { id } }', {}, { session: b.session })).data).toEqual({
      me: { id: b.id },
    });
    expect((await h.gql('{ me { id } }', {}, { token: bToken.token })).data).toEqual({
      me: { id: b.id },
    });
  };

  /** Runtime-scoped: B's runtime answers exactly as a runtime that does not exist. */
  const sameAsMissing = async (
    query: string,
    variables: (runtimeId: string) => Record<string, unknown>,
  ) => {
    const theirs = errorOf(await h.gql(query, variables('rt-b'), { session: a.session }));
    const nowhere = errorOf(await h.gql(query, variables('rt-nowhere'), { session: a.session }));
    expect(theirs).toEqual({ code: 'NOT_FOUND', message: 'runtime "rt-b" not found' });
    expect(nowhere).toEqual({ code: 'NOT_FOUND', message: 'runtime "rt-nowhere" not found' });
  };
  const versionAction = (mutation: string) =>
    sameAsMissing(
      `mutation($r: ID!) { ${mutation}(input: {runtimeId: $r, versionName: "v1", comment: "x"}) { name } }`,
      (r) => ({ r }),
    );

  const subscriptionError = async (
    session: string,
    runtimeId: string | null,
    query = 'subscription($r: String) { watchUserActivity(runtimeId: $r) { id } }',
  ) => {
    const { client } = h.ws({ auth: { session } });
    try {
      await firstEvent(client, query, { r: runtimeId }).value;
      return null;
    } catch (error) {
      const [first] = JSON.parse((error as Error).message) as {
        message: string;
        extensions: { code: string };
      }[];
      return { code: first.extensions.code, message: first.message };
    } finally {
      await client.dispose();
    }
  };

  /**
   * I1: every query, mutation and subscription, called by tenant A with tenant B's ids. Each
   * entry asserts "not found or empty, and nothing of B's"; a root field without an entry fails
   * the test, so new operations must join the matrix.
   */
  const matrix: Record<string, () => Promise<void>> = {
    me: async () => {
      const result = await h.gql(
        '{ me { id email apiTokens { id } } }',
        {},
        { session: a.session },
      );
      expect(JSON.stringify(result)).not.toContain(b.email);
      expect(JSON.stringify(result)).not.toContain(bToken.id);
    },
    users: async () => {
      expect(errorOf(await h.gql('{ users { id email } }', {}, { session: a.session }))?.code).toBe(
        'FORBIDDEN',
      );
    },
    apiTokens: async () => {
      const result = await h.gql('{ apiTokens { id } }', {}, { session: a.session });
      expect(result.errors).toBeUndefined();
      expect(JSON.stringify(result)).not.toContain(bToken.id);
    },
    settings: async () => {
      expect(
        errorOf(await h.gql('{ settings { authAllowedDomains } }', {}, { session: a.session }))
          ?.code,
      ).toBe('FORBIDDEN');
    },
    userActivityList: async () => {
      const query =
        'query($r: String) { userActivityList(filters: {runtimeId: $r}) { items { runtimeId userEmail vars { value } } } }';
      const theirs = errorOf(await h.gql(query, { r: 'rt-b' }, { session: a.session }));
      const nowhere = errorOf(await h.gql(query, { r: 'rt-nowhere' }, { session: a.session }));
      expect(theirs).toEqual({ code: 'NOT_FOUND', message: 'runtime "rt-b" not found' });
      expect(nowhere).toEqual({ code: 'NOT_FOUND', message: 'runtime "rt-nowhere" not found' });
      const all = errorOf(await h.gql(query, { r: null }, { session: a.session }));
      expect(all?.code).toBe('FORBIDDEN');
      const own = await h.gql(query, { r: 'rt-a' }, { session: a.session });
      expect(own.errors).toBeUndefined();
      expect(JSON.stringify(own)).toContain('rt-a');
      expect(JSON.stringify(own)).not.toContain('rt-b');
      expect(JSON.stringify(own)).not.toContain(b.email);
    },
    createUser: async () => {
      const result = await h.gql(
        'mutation { createUser(input: {email: "x@b.test", platformRole: ADMIN}) { id } }',
        {},
        { session: a.session },
      );
      expect(errorOf(result)?.code).toBe('FORBIDDEN');
    },
    removeUsers: async () => {
      const result = await h.gql(
        'mutation($ids: [ID!]!) { removeUsers(input: {userIds: $ids, comment: "x"}) { id } }',
        { ids: [b.id] },
        { session: a.session },
      );
      expect(errorOf(result)?.code).toBe('FORBIDDEN');
      await bIsIntact();
    },
    updatePlatformRole: async () => {
      const result = await h.gql(
        'mutation($ids: [ID!]!) { updatePlatformRole(input: {userIds: $ids, platformRole: ADMIN, comment: "x"}) { id } }',
        { ids: [a.id] },
        { session: a.session },
      );
      expect(errorOf(result)?.code).toBe('FORBIDDEN');
    },
    revokeUserSessions: async () => {
      for (const includeApiTokens of [false, true]) {
        const result = await h.gql(
          'mutation($ids: [ID!]!, $t: Boolean) { revokeUserSessions(input: {userIds: $ids, comment: "x"}, includeApiTokens: $t) { id } }',
          { ids: [b.id], t: includeApiTokens },
          { session: a.session },
        );
        expect(errorOf(result)?.code).toBe('FORBIDDEN');
      }
      await bIsIntact();
    },
    updateSettings: async () => {
      const result = await h.gql(
        'mutation { updateSettings(input: {authAllowedDomains: ["evil.test"]}) { authAllowedDomains } }',
        {},
        { session: a.session },
      );
      expect(errorOf(result)?.code).toBe('FORBIDDEN');
    },
    generateApiToken: async () => {
      const result = await h.gql<{ generateApiToken: { token: string } }>(
        'mutation { generateApiToken(input: {name: "a", expiresInDays: 1}) { token } }',
        {},
        { session: a.session },
      );
      const owner = await h.gql(
        '{ me { id } }',
        {},
        { token: result.data!.generateApiToken.token },
      );
      expect(owner.data).toEqual({ me: { id: a.id } });
    },
    deleteApiToken: async () => {
      const mutation = 'mutation($id: ID!) { deleteApiToken(input: {id: $id}) { id } }';
      const theirs = errorOf(await h.gql(mutation, { id: bToken.id }, { session: a.session }));
      const nowhere = errorOf(await h.gql(mutation, { id: 'tok-nowhere' }, { session: a.session }));
      expect(theirs).toEqual({ code: 'NOT_FOUND', message: `apiToken "${bToken.id}" not found` });
      expect(nowhere).toEqual({ code: 'NOT_FOUND', message: 'apiToken "tok-nowhere" not found' });
      await bIsIntact();
    },
    watchUserActivity: async () => {
      expect(await subscriptionError(a.session, 'rt-b')).toEqual({
        code: 'NOT_FOUND',
        message: 'runtime "rt-b" not found',
      });
      expect(await subscriptionError(a.session, 'rt-nowhere')).toEqual({
        code: 'NOT_FOUND',
        message: 'runtime "rt-nowhere" not found',
      });
      expect((await subscriptionError(a.session, null))?.code).toBe('FORBIDDEN');
    },
    // Runtimes, members and versions (the runtimes issue): every one is scoped by its runtime id.
    runtime: () => sameAsMissing('query($r: ID!) { runtime(id: $r) { id name } }', (r) => ({ r })),
    runtimes: async () => {
      const result = await h.gql('{ runtimes { id } }', {}, { session: a.session });
      expect(result.errors).toBeUndefined();
      expect(JSON.stringify(result)).toContain('rt-a');
      expect(JSON.stringify(result)).not.toContain('rt-b');
    },
    createRuntime: async () => {
      const result = await h.gql(
        'mutation { createRuntime(input: {id: "rt-mine", name: "x"}) { id } }',
        {},
        { session: a.session },
      );
      expect(errorOf(result)?.code).toBe('FORBIDDEN');
    },
    deleteRuntime: async () => {
      await sameAsMissing(
        'mutation($r: ID!) { deleteRuntime(input: {id: $r, comment: "x"}) { id } }',
        (r) => ({ r }),
      );
      const still = await h.gql('{ runtime(id: "rt-b") { id } }', {}, { session: b.session });
      expect(still.data).toEqual({ runtime: { id: 'rt-b' } });
    },
    runtimeMembers: () =>
      sameAsMissing('query($r: ID!) { runtimeMembers(runtimeId: $r) { email } }', (r) => ({ r })),
    addRuntimeMember: () =>
      sameAsMissing(
        'mutation($r: ID!, $e: String!) { addRuntimeMember(input: {runtimeId: $r, email: $e, role: ADMIN}) { userId } }',
        (r) => ({ r, e: a.email }),
      ),
    updateRuntimeMemberRole: () =>
      sameAsMissing(
        'mutation($r: ID!, $u: ID!) { updateRuntimeMemberRole(input: {runtimeId: $r, userId: $u, role: VIEWER}) { userId } }',
        (r) => ({ r, u: b.id }),
      ),
    removeRuntimeMember: async () => {
      await sameAsMissing(
        'mutation($r: ID!, $u: ID!) { removeRuntimeMember(input: {runtimeId: $r, userId: $u}) { userId } }',
        (r) => ({ r, u: b.id }),
      );
      const members = await h.gql(
        '{ runtimeMembers(runtimeId: "rt-b") { userId } }',
        {},
        { session: b.session },
      );
      expect(JSON.stringify(members)).toContain(b.id);
    },
    updateRuntime: async () => {
      await sameAsMissing(
        'mutation($r: ID!) { updateRuntime(input: {id: $r, requireInvocationKey: false}) { id } }',
        (r) => ({ r }),
      );
      const still = await h.gql(
        '{ runtime(id: "rt-b") { requireInvocationKey } }',
        {},
        { session: b.session },
      );
      expect(still.data).toEqual({ runtime: { requireInvocationKey: true } });
    },
    // The quota is the platform's: a runtime's own ADMIN may not set it, on theirs or another's.
    setRuntimeQuota: async () => {
      for (const r of ['rt-a', 'rt-b']) {
        const result = await h.gql(
          'mutation($r: ID!) { setRuntimeQuota(input: {runtimeId: $r, replicas: 999, memory: "1Ti", cpu: "999", gpus: 9, storage: "1Ti", comment: "x"}) { id } }',
          { r },
          { session: a.session },
        );
        expect(errorOf(result)?.code).toBe('FORBIDDEN');
      }
      const still = await h.gql(
        '{ runtime(id: "rt-b") { quota { replicas } } }',
        {},
        {
          session: b.session,
        },
      );
      expect(still.data).not.toEqual({ runtime: { quota: { replicas: 999 } } });
      expect(still.errors).toBeUndefined();
    },
    // Invocation keys: runtime ADMINs of that runtime only; a key id of B's is not found in A's.
    invocationKeys: async () => {
      await sameAsMissing('query($r: ID!) { invocationKeys(runtimeId: $r) { id } }', (r) => ({
        r,
      }));
      const own = await h.gql(
        '{ invocationKeys(runtimeId: "rt-a") { id } }',
        {},
        { session: a.session },
      );
      expect(JSON.stringify(own)).not.toContain(bKey.id);
      expect(
        errorOf(
          await h.gql('{ invocationKeys(runtimeId: "rt-c") { id } }', {}, { session: a.session }),
        )?.code,
      ).toBe('FORBIDDEN');
    },
    createInvocationKey: () =>
      sameAsMissing(
        'mutation($r: ID!) { createInvocationKey(runtimeId: $r, input: {name: "a"}) { key } }',
        (r) => ({ r }),
      ),
    revokeInvocationKey: async () => {
      await sameAsMissing(
        'mutation($r: ID!, $id: ID!) { revokeInvocationKey(runtimeId: $r, id: $id) { id } }',
        (r) => ({ r, id: bKey.id }),
      );
      // B's key through A's own runtime: not found, as a missing one; B's key still works.
      const mutation =
        'mutation($id: ID!) { revokeInvocationKey(runtimeId: "rt-a", id: $id) { id } }';
      const theirs = errorOf(await h.gql(mutation, { id: bKey.id }, { session: a.session }));
      const nowhere = errorOf(await h.gql(mutation, { id: 'ik_nowhere' }, { session: a.session }));
      expect(theirs).toEqual({
        code: 'NOT_FOUND',
        message: `invocationKey "${bKey.id}" not found`,
      });
      expect(nowhere).toEqual({
        code: 'NOT_FOUND',
        message: 'invocationKey "ik_nowhere" not found',
      });
      const keys = await h.gql<{ invocationKeys: { id: string; revokedAt: string | null }[] }>(
        '{ invocationKeys(runtimeId: "rt-b") { id revokedAt } }',
        {},
        { session: b.session },
      );
      expect(keys.data?.invocationKeys).toEqual([{ id: bKey.id, revokedAt: null }]);
    },
    version: () =>
      sameAsMissing('query($r: ID!) { version(runtimeId: $r, name: "v1") { name } }', (r) => ({
        r,
      })),
    versions: () =>
      sameAsMissing('query($r: ID!) { versions(runtimeId: $r) { name } }', (r) => ({ r })),
    versionDocs: () =>
      sameAsMissing('query($r: ID!) { versionDocs(runtimeId: $r, name: "v1") }', (r) => ({ r })),
    startVersion: () => versionAction('startVersion'),
    stopVersion: () => versionAction('stopVersion'),
    publishVersion: () => versionAction('publishVersion'),
    unpublishVersion: () => versionAction('unpublishVersion'),
    deleteVersion: () => versionAction('deleteVersion'),
    updateVersionUserConfiguration: () =>
      sameAsMissing(
        'mutation($r: ID!) { updateVersionUserConfiguration(input: {runtimeId: $r, versionName: "v1", configurationVariables: [{key: "K", value: "v"}]}) { name } }',
        (r) => ({ r }),
      ),
    unsetVersionUserConfiguration: () =>
      sameAsMissing(
        'mutation($r: ID!) { unsetVersionUserConfiguration(input: {runtimeId: $r, versionName: "v1", keys: ["K"]}) { name } }',
        (r) => ({ r }),
      ),
    updateNodeAutoscale: () =>
      sameAsMissing(
        'mutation($r: ID!) { updateNodeAutoscale(input: {runtimeId: $r, versionName: "v1", workflowName: "w", nodeName: "n", min: 1, max: 3}) { name } }',
        (r) => ({ r }),
      ),
    updateEntrypointAutoscale: async () => {
      const mutation =
        'mutation($r: ID!) { updateEntrypointAutoscale(input: {runtimeId: $r, versionName: "v1", min: 1, max: 3}) { name } }';
      await sameAsMissing(mutation, (r) => ({ r }));
      // A VIEWER of the runtime reads its versions but does not scale them.
      expect(errorOf(await h.gql(mutation, { r: 'rt-c' }, { session: a.session }))).toEqual({
        code: 'FORBIDDEN',
        message: 'this needs the MANAGER role on runtime "rt-c"',
      });
    },
    updateVersionScale: () =>
      sameAsMissing(
        'mutation($r: ID!) { updateVersionScale(input: {runtimeId: $r, versionName: "v1", idleSeconds: 60}) { name } }',
        (r) => ({ r }),
      ),
    watchVersion: async () => {
      const query = 'subscription($r: ID!) { watchVersion(runtimeId: $r) { __typename } }';
      expect(await subscriptionError(a.session, 'rt-b', query)).toEqual({
        code: 'NOT_FOUND',
        message: 'runtime "rt-b" not found',
      });
      expect(await subscriptionError(a.session, 'rt-nowhere', query)).toEqual({
        code: 'NOT_FOUND',
        message: 'runtime "rt-nowhere" not found',
      });
    },
    watchNodeStatus: async () => {
      const query =
        'subscription($r: ID!) { watchNodeStatus(runtimeId: $r, versionName: "v1") { nodeId } }';
      expect(await subscriptionError(a.session, 'rt-b', query)).toEqual({
        code: 'NOT_FOUND',
        message: 'runtime "rt-b" not found',
      });
      expect(await subscriptionError(a.session, 'rt-nowhere', query)).toEqual({
        code: 'NOT_FOUND',
        message: 'runtime "rt-nowhere" not found',
      });
    },
    // Observability (#15): a runtime's records and retention, scoped by its id.
    logs: () =>
      sameAsMissing(
        'query($r: ID!) { logs(runtimeId: $r, filters: {startDate: "2026-01-01T00:00:00Z"}) { items { message } } }',
        (r) => ({ r }),
      ),
    metrics: () =>
      sameAsMissing(
        'query($r: ID!) { metrics(runtimeId: $r, versionName: "v1", startDate: "2026-01-01T00:00:00Z") { values { missing } } }',
        (r) => ({ r }),
      ),
    nodeMetrics: () =>
      sameAsMissing(
        'query($r: ID!) { nodeMetrics(runtimeId: $r, versionName: "v1", from: "2026-01-01T00:00:00Z", bucket: DAY) { nodeName } }',
        (r) => ({ r }),
      ),
    measurements: () =>
      sameAsMissing(
        'query($r: ID!) { measurements(runtimeId: $r, versionName: "v1", name: "m", from: "2026-01-01T00:00:00Z", bucket: DAY) { count } }',
        (r) => ({ r }),
      ),
    replicaResources: () =>
      sameAsMissing(
        'query($r: ID!) { replicaResources(runtimeId: $r, versionName: "v1") { workload cpuCores } }',
        (r) => ({ r }),
      ),
    observabilityRetention: () =>
      sameAsMissing('query($r: ID!) { observabilityRetention(runtimeId: $r) { days } }', (r) => ({
        r,
      })),
    setObservabilityRetention: async () => {
      await sameAsMissing(
        'mutation($r: ID!) { setObservabilityRetention(input: {runtimeId: $r, days: 1}) { days } }',
        (r) => ({ r }),
      );
      const own = await h.gql(
        '{ observabilityRetention(runtimeId: "rt-b") { isDefault } }',
        {},
        { session: b.session },
      );
      expect(own.data).toEqual({ observabilityRetention: { isDefault: true } });
    },
    watchNodeLogs: async () => {
      const query =
        'subscription($r: ID!) { watchNodeLogs(runtimeId: $r, versionName: "v1") { message } }';
      expect(await subscriptionError(a.session, 'rt-b', query)).toEqual({
        code: 'NOT_FOUND',
        message: 'runtime "rt-b" not found',
      });
      expect(await subscriptionError(a.session, 'rt-nowhere', query)).toEqual({
        code: 'NOT_FOUND',
        message: 'runtime "rt-nowhere" not found',
      });
    },
  };

  it('I1: every operation, called with another tenant’s ids, answers not-found or empty', async () => {
    const schema = h.get(GraphQLSchemaHost).schema;
    const operations = [
      schema.getQueryType(),
      schema.getMutationType(),
      schema.getSubscriptionType(),
    ]
      .flatMap((type) => Object.keys(type?.getFields() ?? {}))
      .sort();
    expect(Object.keys(matrix).sort()).toEqual(operations);
    for (const name of operations) await matrix[name]();
  });

  it('RequireRuntimeRole: a VIEWER member is FORBIDDEN where ADMIN is needed; platform admins pass everywhere', async () => {
    const query =
      'query($r: String) { userActivityList(filters: {runtimeId: $r}) { items { id } } }';
    const viewer = errorOf(await h.gql(query, { r: 'rt-c' }, { session: a.session }));
    expect(viewer).toEqual({
      code: 'FORBIDDEN',
      message: 'this needs the ADMIN role on runtime "rt-c"',
    });
    for (const r of ['rt-a', 'rt-b', 'rt-nowhere', null]) {
      expect((await h.gql(query, { r }, { session: admin })).errors).toBeUndefined();
    }
  });

  it('anonymous callers get UNAUTHENTICATED; nobody removes or demotes themselves', async () => {
    expect(errorOf(await h.gql('{ me { id } }'))?.code).toBe('UNAUTHENTICATED');
    const adminId = (await h.gql<{ me: { id: string } }>('{ me { id } }', {}, { session: admin }))
      .data!.me.id;
    const remove = await h.gql(
      'mutation($ids: [ID!]!) { removeUsers(input: {userIds: $ids, comment: "oops"}) { id } }',
      { ids: [adminId] },
      { session: admin },
    );
    expect(errorOf(remove)).toEqual({ code: 'FORBIDDEN', message: 'you cannot remove yourself' });
    const demote = await h.gql(
      'mutation($ids: [ID!]!) { updatePlatformRole(input: {userIds: $ids, platformRole: USER, comment: "oops"}) { id } }',
      { ids: [adminId] },
      { session: admin },
    );
    expect(errorOf(demote)).toEqual({ code: 'FORBIDDEN', message: 'you cannot demote yourself' });
    const unknown = await h.gql(
      'mutation { revokeUserSessions(input: {userIds: ["nobody"], comment: "x"}) { id } }',
      {},
      { session: admin },
    );
    expect(errorOf(unknown)).toEqual({ code: 'NOT_FOUND', message: 'user "nobody" not found' });
  });

  it('every Query, Mutation, Subscription and route declares who may call it', () => {
    const declared = (target: object, method: object): unknown =>
      Reflect.getMetadata(ACCESS_KEY, method) ?? Reflect.getMetadata(ACCESS_KEY, target);
    const missing: string[] = [];
    let resolvers = 0;
    let routes = 0;
    for (const module of h.get(ModulesContainer).values()) {
      for (const wrapper of [...module.providers.values(), ...module.controllers.values()]) {
        const { metatype, instance } = wrapper;
        if (!metatype || !instance || typeof metatype !== 'function') continue;
        const prototype = Object.getPrototypeOf(instance) as object;
        const isController = module.controllers.has(wrapper.token);
        for (const name of Object.getOwnPropertyNames(prototype)) {
          const method: unknown = Object.getOwnPropertyDescriptor(prototype, name)?.value;
          if (name === 'constructor' || typeof method !== 'function') continue;
          const kind = Reflect.getMetadata(RESOLVER_TYPE_METADATA, method) as string | undefined;
          const isOperation = kind === 'Query' || kind === 'Mutation' || kind === 'Subscription';
          const isRoute = isController && Reflect.getMetadata(PATH_METADATA, method) !== undefined;
          // /health, /readyz, /livez and /metrics come from @libs/observability: public probes
          // and process series by design (docs/observability.md).
          if (isRoute && ['HealthController', 'MetricsController'].includes(metatype.name))
            continue;
          if (!isOperation && !isRoute) continue;
          if (isOperation) resolvers++;
          else routes++;
          if (!declared(metatype, method)) missing.push(`${metatype.name}.${name}`);
        }
      }
    }
    expect(missing).toEqual([]);
    // The walk saw every root field of the schema, and at least the sign-in routes.
    const schema = h.get(GraphQLSchemaHost).schema;
    const operations = [
      schema.getQueryType(),
      schema.getMutationType(),
      schema.getSubscriptionType(),
    ]
      .map((type) => Object.keys(type?.getFields() ?? {}).length)
      .reduce((sum, n) => sum + n, 0);
    expect(resolvers).toBe(operations);
    // signin, signin/inspect, signin/verify, logout, the /signin page
    expect(routes).toBeGreaterThanOrEqual(5);
  });
});
