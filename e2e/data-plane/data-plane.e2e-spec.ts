import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Kvm } from '@nats-io/kv';
import {
  GatewayRoutes,
  decodeToJson,
  kreProtoDir,
  loadProtoRoot,
  messageFromJson,
} from '@libs/messaging';
import type { AppProcess } from '@libs/testing';
import { testEnv, toolBinary } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DataPlane,
  type Endpoint,
  type Provisioned,
  type VersionSpec,
  grpcClient,
  postJson,
} from './harness.js';

const run = promisify(execFile);
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const krtDir = `${fixtures}krt`;
const betaDir = `${fixtures}beta`;

const alpha: VersionSpec = {
  runtimeId: 'alpha',
  version: 'v1',
  krtDir,
  proto: 'public_input.proto',
  settings: { ackWaitMs: 1_000, maxDeliver: 3 },
  config: { GREETING: 'Hola', API_TOKEN: 'tok-s3cr3t-4242' },
  workflows: [
    {
      name: 'echo',
      rpc: 'Echo',
      exitpoint: 'c',
      nodes: [
        { name: 'a', src: 'src/echo.mjs', subscriptions: [{ node: 'entrypoint' }] },
        { name: 'b', src: 'src/echo.mjs', subscriptions: [{ node: 'a' }] },
        { name: 'c', src: 'src/echo.mjs', subscriptions: [{ node: 'b' }] },
      ],
    },
    {
      name: 'kitchen',
      rpc: 'Kitchen',
      exitpoint: 'k2',
      nodes: [
        { name: 'k1', src: 'src/pass.cjs', subscriptions: [{ node: 'entrypoint' }] },
        { name: 'k2', src: 'src/pass-default.mjs', subscriptions: [{ node: 'k1' }] },
      ],
    },
    {
      name: 'flow',
      rpc: 'Flow',
      exitpoint: 'second',
      nodes: [
        {
          name: 'first',
          src: 'src/flow.mjs',
          subscriptions: [{ node: 'entrypoint' }],
          objectStore: { name: 'files', scope: 'workflow' },
          env: { KRT_HANDLER_TIMEOUT: '1.5' },
        },
        { name: 'second', src: 'src/flow-exit.mjs', subscriptions: [{ node: 'first' }] },
      ],
    },
    {
      name: 'slow',
      rpc: 'Slow',
      exitpoint: 'worker',
      nodes: [
        {
          name: 'worker',
          src: 'src/slow.mjs',
          subscriptions: [{ node: 'entrypoint' }],
          replicas: 2,
        },
      ],
    },
    {
      name: 'slowalone',
      rpc: 'SlowAlone',
      exitpoint: 'worker',
      nodes: [{ name: 'worker', src: 'src/slow.mjs', subscriptions: [{ node: 'entrypoint' }] }],
    },
    {
      name: 'fragile',
      rpc: 'Fragile',
      exitpoint: 'worker',
      settings: { maxDeliver: 1 },
      nodes: [{ name: 'worker', src: 'src/slow.mjs', subscriptions: [{ node: 'entrypoint' }] }],
    },
  ],
};

const beta: VersionSpec = {
  runtimeId: 'beta',
  version: 'v1',
  krtDir: betaDir,
  proto: 'public_input.proto',
  workflows: [
    {
      name: 'shout',
      rpc: 'Echo',
      exitpoint: 'shout',
      nodes: [{ name: 'shout', src: 'src/shout.mjs', subscriptions: [{ node: 'entrypoint' }] }],
    },
  ],
};

/** The kitchen-sink Order in proto3 JSON: imports, WKT, enums, maps, oneof, bytes, int64. */
const order = {
  orderId: 'o-1',
  big: '-9223372036854775808',
  ubig: '18446744073709551615',
  small: -7,
  ratio: 0.25,
  weight: 1.5,
  paid: true,
  blob: Buffer.from([0, 1, 2, 250, 255]).toString('base64'),
  color: 'GREEN',
  items: [{ skuCode: 'A', price: { currency: 'EUR', units: '12', nanos: 500 }, tags: ['x', 'y'] }],
  counts: { a: 1, b: 2 },
  email: 'a@b.c',
  createdAt: '2024-02-29T23:59:59.123456789Z',
  ttl: '-1.500s',
  meta: { nested: { list: [1, 'two', null, true] }, n: 3.5 },
  maybeBig: '12345678901234567',
  note: '',
  flag: false,
  palette: ['RED', 'COLOR_UNSPECIFIED'],
};

describe('the data plane: gateway → entrypoint → runners, as processes', () => {
  const env = testEnv();
  const dp = new DataPlane(env);
  let a: Provisioned;
  let runners: Record<string, AppProcess[]>;
  let main: Endpoint;
  let fast: Endpoint;
  let betaEp: Endpoint;
  let gateway: Endpoint;
  const alphaRoot = loadProtoRoot(`${krtDir}/public_input.proto`, [krtDir]);
  const Order = alphaRoot.lookupType('kitchen.Order');
  const orderDefinition = protoLoader.loadSync(`${krtDir}/public_input.proto`, {
    keepCase: false,
    longs: String,
    enums: String,
    oneofs: true,
    includeDirs: [krtDir],
  });
  const serializeOrder = (value: unknown) =>
    (
      orderDefinition['kitchen.Order'] as protoLoader.MessageTypeDefinition<object, object>
    ).serialize(value as object);

  const kv = async (scope: 'workflow', workflow: string) =>
    new Kvm(dp.nc).open(dp.names.workflowBucket('alpha', 'v1', workflow));
  const called = async (requestId: string) =>
    (await (await kv('workflow', 'flow')).get(`called.${requestId}`))?.string();

  beforeAll(async () => {
    await dp.connect();
    a = await dp.provision(alpha);
    const b = await dp.provision(beta);
    await dp.startMongoWriter();
    [runners] = await Promise.all([dp.startRunners(a), dp.startRunners(b)]);
    [main, fast, betaEp, gateway] = await Promise.all([
      dp.startEntrypoint(a, { KRT_REQUEST_TIMEOUT: '10' }),
      dp.startEntrypoint(a, { KRT_REQUEST_TIMEOUT: '2', KRT_MAX_REQUEST_BYTES: '65536' }),
      dp.startEntrypoint(b),
      dp.startGateway(),
    ]);
    await dp.route('alpha', 'v1', main);
    await dp.route('beta', 'v1', betaEp);
  });
  afterAll(async () => {
    await dp.close();
  });

  describe('the entrypoint', () => {
    it('answers an rpc over HTTP/JSON through three nodes (int64 as a string), with the request id', async () => {
      const res = await postJson(`http://${main.http}/Echo`, { text: 'hi', n: '9007199254740993' });
      expect(res).toMatchObject({
        status: 200,
        body: { text: 'hi', n: '9007199254740993', path: ['a', 'b', 'c'] },
      });
      expect(res.headers.get('kre-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(await (await fetch(`http://${main.http}/`)).json()).toMatchObject({
        service: 'dp.Entrypoint',
        rpcs: expect.arrayContaining([
          { name: 'Echo', path: '/Echo', streaming: false },
        ]) as unknown,
      });
    });

    it('answers the same rpc over gRPC', async () => {
      const c = grpcClient(`${krtDir}/public_input.proto`, [krtDir], main.grpc);
      const { response, error } = await c.call('Echo', { text: 'grpc', n: '42' });
      c.close();
      expect(error).toBeUndefined();
      expect(response).toEqual({ text: 'grpc', n: '42', path: ['a', 'b', 'c'] });
    });

    it('round-trips the kitchen sink exactly over HTTP and gRPC, directly and through the gateway', async () => {
      for (const url of [`http://${main.http}/Kitchen`, `http://${gateway.http}/alpha/Kitchen`]) {
        const res = await postJson(url, order);
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body).toEqual(order);
      }
      // The same order as a gRPC client object (what proto-loader makes of its binary form).
      const binary = Order.encode(Order.fromObject(messageFromJson(Order, order))).finish();
      const requestObject = (
        orderDefinition['kitchen.Order'] as protoLoader.MessageTypeDefinition<object, object>
      ).deserialize(Buffer.from(binary));
      for (const [address, md] of [
        [main.grpc, {}],
        [gateway.grpc, { 'kre-runtime': 'alpha' }],
        [gateway.grpc, { 'kre-runtime': 'alpha', 'kre-version': 'v1' }],
      ] as const) {
        const c = grpcClient(`${krtDir}/public_input.proto`, [krtDir], address);
        const { response, error } = await c.call('Kitchen', requestObject, md);
        c.close();
        expect(error).toBeUndefined();
        expect(decodeToJson(Order, serializeOrder(response))).toEqual(order);
      }
    });

    it('refuses bad input: unknown fields, wrong types, not JSON, malformed protobuf, unknown rpcs', async () => {
      expect(await postJson(`http://${main.http}/Echo`, { text: 'x', nope: 1 })).toMatchObject({
        status: 400,
        body: {
          code: 'INVALID_ARGUMENT',
          message: expect.stringContaining('nope: unknown field of dp.EchoRequest') as string,
        },
      });
      expect((await postJson(`http://${main.http}/Echo`, { n: 1.5 })).body.message).toContain(
        'n: must be an integer',
      );
      expect((await postJson(`http://${main.http}/Echo`, '{not json')).status).toBe(400);
      expect(await postJson(`http://${main.http}/Nope`, {})).toMatchObject({
        status: 404,
        body: { code: 'NOT_FOUND' },
      });
      expect((await fetch(`http://${main.http}/Echo`)).status).toBe(405);

      const client = new grpc.Client(main.grpc, grpc.credentials.createInsecure());
      const error = await new Promise<grpc.ServiceError | null>((resolve) =>
        client.makeUnaryRequest(
          '/dp.Entrypoint/Echo',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from([0xff, 0xff, 0xff, 0xff]),
          new grpc.Metadata(),
          { deadline: Date.now() + 5_000 },
          (e) => resolve(e),
        ),
      );
      client.close();
      expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    });

    it('says streaming rpcs are not supported yet (gRPC UNIMPLEMENTED, HTTP 501)', async () => {
      expect(await postJson(`http://${main.http}/Watch`, {})).toMatchObject({
        status: 501,
        body: { code: 'UNIMPLEMENTED' },
      });
      const c = grpcClient(`${krtDir}/public_input.proto`, [krtDir], main.grpc);
      const stream = (c.client as unknown as { watch(r: unknown): NodeJS.EventEmitter }).watch({
        text: 'x',
      });
      const error = await new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
      c.close();
      expect(error.code).toBe(grpc.status.UNIMPLEMENTED);
      expect(error.details).toContain('streaming rpc');
    });

    it('is described and called through reflection by grpcurl, through the gateway', async () => {
      const grpcurl = toolBinary('grpcurl');
      const md = ['-plaintext', '-H', 'kre-runtime: alpha'];
      const { stdout: described } = await run(grpcurl, [
        ...md,
        gateway.grpc,
        'describe',
        'kitchen.Order',
      ]);
      expect(described).toContain('map<string, int32> counts = 11;');
      expect(described).toContain('.google.protobuf.Timestamp created_at = 14;');
      const { stdout: answer } = await run(grpcurl, [
        ...md,
        '-d',
        JSON.stringify({ text: 'reflected', n: '7' }),
        gateway.grpc,
        'dp.Entrypoint/Echo',
      ]);
      expect(JSON.parse(answer)).toEqual({ text: 'reflected', n: '7', path: ['a', 'b', 'c'] });
    });

    it('serves the standard health service and server reflection', async () => {
      const health = grpc.loadPackageDefinition(
        protoLoader.loadSync(`${kreProtoDir()}/grpc/health/v1/health.proto`, { enums: String }),
      ) as never as {
        grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
      };
      const h = new health.grpc.health.v1.Health(main.grpc, grpc.credentials.createInsecure());
      const check = (service: string) =>
        new Promise<unknown>((resolve) =>
          (h as unknown as { Check(r: unknown, cb: (e: unknown, v: unknown) => void): void }).Check(
            { service },
            (e, v) => resolve(e ? (e as grpc.ServiceError).code : v),
          ),
        );
      expect(await check('')).toEqual({ status: 'SERVING' });
      expect(await check('dp.Entrypoint')).toEqual({ status: 'SERVING' });
      expect(await check('nope.Service')).toBe(grpc.status.NOT_FOUND);
      h.close();

      const reflection = grpc.loadPackageDefinition(
        protoLoader.loadSync(`${kreProtoDir()}/grpc/reflection/v1/reflection.proto`, {
          keepCase: true,
          oneofs: true,
        }),
      ) as never as {
        grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
      };
      const r = new reflection.grpc.reflection.v1.ServerReflection(
        gateway.grpc,
        grpc.credentials.createInsecure(),
      );
      const md = new grpc.Metadata();
      md.set('kre-runtime', 'alpha');
      const stream = (
        r as unknown as {
          ServerReflectionInfo(
            md: grpc.Metadata,
          ): grpc.ClientDuplexStream<unknown, Record<string, unknown>>;
        }
      ).ServerReflectionInfo(md);
      const answers: Record<string, unknown>[] = [];
      stream.on('data', (d: Record<string, unknown>) => answers.push(d));
      stream.write({ list_services: '' });
      stream.write({ file_containing_symbol: 'dp.Entrypoint' });
      stream.write({ file_containing_symbol: 'nope.Nothing' });
      stream.end();
      await new Promise((resolve) => stream.on('end', resolve));
      r.close();
      expect(
        (answers[0].list_services_response as { service: { name: string }[] }).service.map(
          (s) => s.name,
        ),
      ).toEqual(
        expect.arrayContaining([
          'dp.Entrypoint',
          'grpc.health.v1.Health',
          'grpc.reflection.v1.ServerReflection',
        ]),
      );
      const files = (answers[1].file_descriptor_response as { file_descriptor_proto: Buffer[] })
        .file_descriptor_proto;
      const descriptor = (await import('protobufjs/ext/descriptor/index.js')).default;
      // One file per package, with the dependencies reflection clients need to link them.
      const decoded = files.map(
        (f) =>
          descriptor.FileDescriptorProto.decode(f) as unknown as {
            name: string;
            dependency: string[];
          },
      );
      expect(Object.fromEntries(decoded.map((f) => [f.name, f.dependency]))).toEqual({
        'dp.proto': ['google_protobuf.proto', 'kitchen.proto'],
        'kitchen.proto': ['google_protobuf.proto', 'kitchen_common.proto'],
        'kitchen_common.proto': [],
        'google_protobuf.proto': [],
      });
      expect(answers[2].error_response).toMatchObject({ error_code: grpc.status.NOT_FOUND });
    });
  });

  describe('how messages travel (ARCHITECTURE.md table)', () => {
    it('EARLY_REPLY answers at once and the normal output still flows on', async () => {
      const res = await postJson(`http://${main.http}/Flow`, { mode: 'early-reply' });
      expect(res).toMatchObject({ status: 200, body: { text: 'early', mode: 'early-reply' } });
      const id = res.headers.get('kre-request-id')!;
      await expect.poll(() => called(id), { timeout: 10_000 }).toBe('yes');
    });

    it('EARLY_EXIT answers and nothing further flows', async () => {
      const res = await postJson(`http://${main.http}/Flow`, { mode: 'early-exit' });
      expect(res).toMatchObject({ status: 200, body: { text: 'exit' } });
      await new Promise((r) => setTimeout(r, 1_000));
      expect(await called(res.headers.get('kre-request-id')!)).toBeUndefined();
    });

    it('an exception in a node reaches the client as an error, and downstream handlers are not called', async () => {
      const res = await postJson(`http://${main.http}/Flow`, { mode: 'throw', text: 'bad ticket' });
      expect(res).toMatchObject({
        status: 500,
        body: {
          code: 'INTERNAL',
          message: 'node "first" failed on a message from "entrypoint": boom: bad ticket',
        },
      });
      const c = grpcClient(`${krtDir}/public_input.proto`, [krtDir], gateway.grpc);
      const { error } = await c.call(
        'Flow',
        { mode: 'throw', text: 'via grpc' },
        { 'kre-runtime': 'alpha' },
      );
      c.close();
      expect(error?.code).toBe(grpc.status.INTERNAL);
      expect(error?.details).toContain('boom: via grpc');
      // A config value in the exception's text leaves the workload masked, as in its records.
      const leaked = await postJson(`http://${main.http}/Flow`, {
        mode: 'throw',
        text: 'token tok-s3cr3t-4242 refused',
      });
      expect(leaked.body).toMatchObject({
        code: 'INTERNAL',
        message: 'node "first" failed on a message from "entrypoint": boom: token *** refused',
      });
      await new Promise((r) => setTimeout(r, 1_000));
      expect(await called(res.headers.get('kre-request-id')!)).toBeUndefined();
    });

    it('a handler that runs past its timeout is an ERROR (in-progress acks kept it from redelivery)', async () => {
      const res = await postJson(`http://${main.http}/Flow`, { mode: 'hang' });
      expect(res).toMatchObject({
        status: 500,
        body: { message: expect.stringContaining('did not finish within 1.5 s') as string },
      });
    });

    it('a node that never answers gives DEADLINE_EXCEEDED on time (504 over HTTP)', async () => {
      const started = Date.now();
      const res = await postJson(`http://${fast.http}/Flow`, { mode: 'silent' });
      const elapsed = Date.now() - started;
      expect(res).toMatchObject({
        status: 504,
        body: { code: 'DEADLINE_EXCEEDED', message: 'no answer from workflow "flow" within 2 s' },
      });
      expect(elapsed).toBeGreaterThanOrEqual(1_900);
      expect(elapsed).toBeLessThan(4_000);
      const c = grpcClient(`${krtDir}/public_input.proto`, [krtDir], fast.grpc);
      const { error } = await c.call('Flow', { mode: 'silent' });
      c.close();
      expect(error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    });

    it('a plain-object answer must fit the response type (unknown fields are an error)', async () => {
      expect(await postJson(`http://${main.http}/Flow`, { mode: 'bad-output' })).toMatchObject({
        status: 500,
        body: {
          message: expect.stringContaining(
            'does not fit dp.FlowResponse: nope: unknown field',
          ) as string,
        },
      });
    });

    it('1,000 concurrent requests each get their own answer', async () => {
      const results = await Promise.all(
        Array.from({ length: 1_000 }, (_, i) =>
          postJson(`http://${main.http}/Echo`, { text: `r${i}`, n: String(i) }),
        ),
      );
      const wrong = results.filter(
        // proto3 JSON omits defaults: n = 0 is absent.
        (r, i) => r.status !== 200 || r.body.text !== `r${i}` || (r.body.n ?? '0') !== String(i),
      );
      expect(wrong).toEqual([]);
    });
  });

  describe('failure of a replica', () => {
    const busy = async (text: string) =>
      (await (await kv('workflow', 'slow')).get(`busy.${text}`))?.string();

    it('with two replicas, a request held by a SIGKILLed replica is redelivered to the other and answered', async () => {
      const pending = postJson(`http://${main.http}/Slow`, { text: 'k1', sleepMs: 1_500 });
      await expect.poll(() => busy('k1'), { timeout: 10_000 }).toBeTruthy();
      const pid = Number(await busy('k1'));
      const victim = runners['slow/worker'].find((p) => p.child.pid === pid)!;
      expect(victim).toBeDefined();
      victim.child.kill('SIGKILL');
      const res = await pending;
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ text: 'k1', mode: 'slow' });
      expect(Number(res.body.pid)).not.toBe(pid);
    });

    it('with one replica, a SIGKILLed replica gives a clear error within the timeout, never a hang', async () => {
      const kvAlone = await new Kvm(dp.nc).open(
        dp.names.workflowBucket('alpha', 'v1', 'slowalone'),
      );
      const started = Date.now();
      const pending = postJson(`http://${fast.http}/SlowAlone`, { text: 'k2', sleepMs: 1_500 });
      await expect
        .poll(async () => (await kvAlone.get('busy.k2'))?.string(), { timeout: 5_000 })
        .toBeTruthy();
      runners['slowalone/worker'][0].child.kill('SIGKILL');
      const res = await pending;
      expect(res).toMatchObject({ status: 504, body: { code: 'DEADLINE_EXCEEDED' } });
      expect(Date.now() - started).toBeLessThan(4_000);
    });
  });

  it('when the deliveries of a message run out, the client gets an ERROR at once, not a timeout', async () => {
    const kvFragile = await new Kvm(dp.nc).open(dp.names.workflowBucket('alpha', 'v1', 'fragile'));
    const started = Date.now();
    const pending = postJson(`http://${main.http}/Fragile`, { text: 'k3', sleepMs: 3_000 });
    await expect
      .poll(async () => (await kvFragile.get('busy.k3'))?.string(), { timeout: 5_000 })
      .toBeTruthy();
    runners['fragile/worker'][0].child.kill('SIGKILL');
    const res = await pending;
    expect(res).toMatchObject({
      status: 500,
      body: {
        code: 'INTERNAL',
        message: expect.stringContaining('node "worker" could not handle the request') as string,
      },
    });
    expect(Date.now() - started).toBeLessThan(5_000); // AckWait (1 s), far from the 10 s timeout
    // The failed request's message is gone from the stream.
    await expect
      .poll(async () => (await dp.jsm.streams.info(a.plans.fragile.stream)).state.messages)
      .toBe(0);
  });

  describe('the handler context', () => {
    it('KV configuration: node, workflow and project scopes, get cascading node → workflow → project', async () => {
      const res = await postJson(`http://${main.http}/Flow`, { mode: 'kv' });
      expect(res.body.data).toEqual({
        init: 'done',
        cascade: 'from-node',
        workflow: 'from-workflow',
        project: 'p',
        afterNodeDelete: 'from-workflow',
        missing: null,
      });
    });

    it('object store: save, get, list, delete', async () => {
      const res = await postJson(`http://${main.http}/Flow`, { mode: 'objects' });
      expect(res.body.data).toEqual({
        listed: ['a.txt', 'b.bin'],
        a: 'hello',
        b: [0, 1, 2],
        after: ['b.bin'],
        missing: null,
      });
    });

    it('db.save and db.find round trip through mongo-writer; unsafe queries are refused', async () => {
      const res = await postJson(`http://${main.http}/Flow`, { mode: 'db' });
      const data = res.body.data as {
        id: string;
        docs: Record<string, unknown>[];
        refused: string;
      };
      expect(data.id).toMatch(/^[0-9a-f]{24}$/);
      expect(data.docs).toEqual([
        {
          _id: data.id,
          requestId: res.headers.get('kre-request-id'),
          n: 1,
          at: '1970-01-01T00:00:00.000Z',
        },
      ]);
      expect(data.refused).toContain('operator $where is not allowed');
    });

    it('config values, KRT paths and the request context', async () => {
      const res = await postJson(`http://${main.http}/Flow`, { mode: 'config' });
      expect(res.body.data).toEqual({
        greeting: 'Hola',
        keys: ['GREETING', 'API_TOKEN'],
        file: `${krtDir}/public_input.proto`,
      });
      const ctx = await postJson(`http://${main.http}/Flow`, { mode: 'ctx' });
      expect(ctx.body.data).toEqual({
        requestId: ctx.headers.get('kre-request-id'),
        fromNode: 'entrypoint',
        ok: true,
        node: 'first',
      });
    });
  });

  describe('payload limits', () => {
    it('compresses a payload above the NATS max payload instead of dropping it', async () => {
      const text = 'compressible '.repeat(250_000); // ~3 MB, above the 1 MB max payload
      const res = await postJson(`http://${main.http}/Echo`, { text });
      expect(res.status).toBe(200);
      expect(res.body.text).toBe(text);
    });

    it('refuses what does not fit even compressed, with a clear error', async () => {
      const text = randomBytes(1_500_000).toString('base64');
      expect(await postJson(`http://${main.http}/Echo`, { text })).toMatchObject({
        status: 413,
        body: {
          code: 'RESOURCE_EXHAUSTED',
          message: expect.stringContaining('above the NATS max payload') as string,
        },
      });
      expect(await postJson(`http://${main.http}/Flow`, { mode: 'big-output' })).toMatchObject({
        status: 500,
        body: {
          message: expect.stringMatching(/node "first".*above the NATS max payload/) as string,
        },
      });
    });

    it('refuses a request above KRT_MAX_REQUEST_BYTES', async () => {
      expect(
        await postJson(`http://${fast.http}/Echo`, { text: 'x'.repeat(100_000) }),
      ).toMatchObject({
        status: 413,
        body: { message: expect.stringContaining('KRT_MAX_REQUEST_BYTES') as string },
      });
    });
  });

  describe('the gateway', () => {
    it('serves two runtimes that both declare dp.Entrypoint, side by side, over gRPC and HTTP', async () => {
      const alphaClient = grpcClient(`${krtDir}/public_input.proto`, [krtDir], gateway.grpc);
      const betaClient = grpcClient(`${betaDir}/public_input.proto`, [betaDir], gateway.grpc);
      const [fromAlpha, fromBeta] = await Promise.all([
        alphaClient.call('Echo', { text: 'same path' }, { 'kre-runtime': 'alpha' }),
        betaClient.call('Echo', { word: 'hello' }, { 'kre-runtime': 'beta' }),
      ]);
      alphaClient.close();
      betaClient.close();
      expect(fromAlpha.response).toEqual({ text: 'same path', n: '0', path: ['a', 'b', 'c'] });
      expect(fromBeta.response).toEqual({ shout: 'HELLO!' });
      expect((await postJson(`http://${gateway.http}/beta/Echo`, { word: 'http' })).body).toEqual({
        shout: 'HTTP!',
      });
      const res = await postJson(`http://${gateway.http}/alpha/versions/v1/Echo`, { text: 'v' });
      expect(res.body).toEqual({ text: 'v', path: ['a', 'b', 'c'] });
      expect(res.headers.get('kre-version')).toBe('v1');
    });

    it('says NOT_FOUND for an unknown runtime, a missing version, no published version, or no kre-runtime', async () => {
      expect(await postJson(`http://${gateway.http}/ghost/Echo`, {})).toMatchObject({
        status: 404,
        body: { code: 'NOT_FOUND' },
      });
      expect(
        (await postJson(`http://${gateway.http}/alpha/versions/v9/Echo`, {})).body.message,
      ).toBe('version "v9" of runtime "alpha" is not started');
      const c = grpcClient(`${krtDir}/public_input.proto`, [krtDir], gateway.grpc);
      expect((await c.call('Echo', {}, { 'kre-runtime': 'ghost' })).error).toMatchObject({
        code: grpc.status.NOT_FOUND,
        details:
          'runtime "ghost" is not served here (unknown runtime, or none of its versions is started)',
      });
      expect((await c.call('Echo', {})).error?.code).toBe(grpc.status.INVALID_ARGUMENT);
      c.close();

      // Unpublish: the stable address stops routing, the versioned one still works; publish again.
      const routes = await GatewayRoutes.open(dp.nc, dp.names);
      await routes.unpublish('beta', 'v1');
      await expect
        .poll(
          async () =>
            (await postJson(`http://${gateway.http}/beta/Echo`, { word: 'x' })).body.message,
        )
        .toBe(
          'runtime "beta" has no published version: publish one, or call /beta/versions/<version>/<rpc>',
        );
      expect(
        (await postJson(`http://${gateway.http}/beta/versions/v1/Echo`, { word: 'x' })).body,
      ).toEqual({ shout: 'X!' });
      await routes.publish('beta', 'v1', { http: betaEp.http, grpc: betaEp.grpc });
      await expect
        .poll(async () => (await postJson(`http://${gateway.http}/beta/Echo`, { word: 'y' })).body)
        .toEqual({ shout: 'Y!' });
    });
  });

  describe('observability records', () => {
    it('every record the runners publish is valid against its schema', async () => {
      await postJson(`http://${main.http}/Flow`, { mode: 'records' });
      // SIGTERM flushes the runners' metric windows.
      await Promise.all(runners['flow/first'].map((p) => p.stop()));
      const records = await dp.records('alpha'); // decodeRecord throws on an invalid record
      const kinds = new Set(records.map((r) => r.kind));
      expect([...kinds].sort()).toEqual(['logs', 'measurements', 'metrics', 'predictions']);
      const logs = records.filter((r) => r.kind === 'logs').map((r) => r.record);
      expect(logs).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            source: 'LOG_SOURCE_LOGGER',
            level: 'LOG_LEVEL_WARN',
            message: 'structured warning',
            fields: { k: 1 },
          }),
          expect.objectContaining({
            source: 'LOG_SOURCE_STDOUT',
            level: 'LOG_LEVEL_INFO',
            message: 'printed line',
          }),
          expect.objectContaining({
            source: 'LOG_SOURCE_STDERR',
            level: 'LOG_LEVEL_ERROR',
            message: 'printed error',
          }),
          expect.objectContaining({ source: 'LOG_SOURCE_RUNNER', level: 'LOG_LEVEL_ERROR' }),
          // Config values are masked wherever they are printed or logged.
          expect.objectContaining({ source: 'LOG_SOURCE_STDOUT', message: 'calling with ***' }),
          expect.objectContaining({ message: 'token', fields: { token: '***' } }),
        ]),
      );
      expect(JSON.stringify(records)).not.toContain('tok-s3cr3t-4242');
      const predictions = records.filter((r) => r.kind === 'predictions').map((r) => r.record);
      expect(predictions).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ predictedValue: 'cat', trueValue: 'dog', extra: { p: 0.7 } }),
          expect.objectContaining({ error: 'PREDICTION_ERROR_NEW_LABELS' }),
        ]),
      );
      expect(records.find((r) => r.kind === 'measurements')?.record).toMatchObject({
        name: 'latency',
        fields: { ms: 12, ok: true },
        tags: { model: 'm1' },
        origin: { runtimeId: 'alpha', version: 'v1', workflow: 'flow', node: 'first' },
      });
      const metric = records.find(
        (r) => r.kind === 'metrics' && (r.record.origin as { node: string }).node === 'first',
      );
      expect(metric?.record).toMatchObject({ fromNode: 'entrypoint' });
    });
  });
});
