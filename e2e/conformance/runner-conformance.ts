import { randomUUID } from 'node:crypto';
import { type JetStreamClient, jetstream } from '@nats-io/jetstream';
import {
  type Msg,
  type MsgHdrs,
  type Subscription,
  headers as natsHeaders,
} from '@nats-io/transport-node';
import {
  type AnyMessage,
  KreHeader,
  type KreMessage,
  MessageType,
  PayloadCodec,
  RECORD_ID,
  type RecordKind,
  decodeEnvelope,
  decodeRecord,
  decompressIfNeeded,
  encodeEnvelope,
  loadProtoRoot,
} from '@libs/messaging';
import { testEnv } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataPlane, type Provisioned, type VersionSpec } from '../data-plane/harness.js';

/**
 * The handler API a fixture is written in. KRE's Python APIs cannot express all of the table
 * (docs/architecture.md, "How messages travel"): kre-py v3 ignores return values (its fixture
 * sends what the others return), kre-py v1 (1.23 - 2.x) only returns, so it cannot send AND
 * return, nor send on a channel, and its `early_exit()` takes no message (the return value is
 * the EARLY_EXIT answer).
 */
export type HandlerApi = 'js' | 'kre-py-v3' | 'kre-py-v1';

/** A runner implementation under test (see e2e/conformance/README.md). */
export interface RunnerUnderTest {
  name: string;
  /** The handler API of the fixture (default `js`). */
  api?: HandlerApi;
  /** KRT folder with `conformance.proto` and the conformance handler. */
  krtDir: string;
  /** The handler file, relative to `krtDir`. */
  handler: string;
  /** Starts one runner with the workload env; resolves once `/readyz` answers 200. */
  start(env: Record<string, string>): Promise<{ stop(): Promise<unknown>; kill(): void }>;
}

interface Seen {
  subject: string;
  headers?: MsgHdrs;
  envelope: KreMessage;
  json: unknown;
}

/** The batched node's maxSize. */
const BATCH_SIZE = 4;
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * The message-routing conformance suite: ARCHITECTURE.md's "How messages travel" table,
 * checked at the NATS level against any runner.
 */
export function describeRunnerConformance(runner: RunnerUnderTest): void {
  describe(`runner conformance: ${runner.name}`, () => {
    const env = testEnv();
    const dp = new DataPlane(env);
    const spec: VersionSpec = {
      runtimeId: 'conf',
      version: 'v1',
      krtDir: runner.krtDir,
      proto: 'conformance.proto',
      settings: { ackWaitMs: 1_000, maxDeliver: 2 },
      workflows: [
        {
          name: 'wf',
          rpc: 'Run',
          exitpoint: 'x',
          nodes: [
            {
              name: 'n',
              src: runner.handler,
              subscriptions: [{ node: 'entrypoint' }, { node: 'special' }, { node: 'other' }],
              env: { KRT_HANDLER_TIMEOUT: '1.5' },
            },
            { name: 'x', src: runner.handler, subscriptions: [{ node: 'feeder' }] },
            // Batched (KRT `batch: {maxSize: 4, maxLatencyMs: 2000}`, as the plan passes it; a wide
            // window, so four messages sent at once make one batch on a loaded machine), with
            // an in-flight bound below maxSize: the replica still holds a full batch.
            {
              name: 'b',
              src: runner.handler,
              subscriptions: [{ node: 'bfeed' }],
              env: {
                KRT_BATCH_MAX_SIZE: String(BATCH_SIZE),
                KRT_BATCH_MAX_LATENCY_MS: '2000',
                KRT_MAX_IN_FLIGHT: '1',
              },
            },
            { name: 'bsink', src: runner.handler, subscriptions: [{ node: 'b' }] },
            { name: 'bfeed', src: runner.handler, subscriptions: [] },
            // Nodes without runners: their consumers make the outputs they read worth publishing.
            { name: 'sink', src: runner.handler, subscriptions: [{ node: 'n' }] },
            { name: 'sider', src: runner.handler, subscriptions: [{ node: 'n', channel: 'side' }] },
            { name: 'tail', src: runner.handler, subscriptions: [{ node: 'x' }] },
            // Nodes without runners that the tests publish as.
            { name: 'special', src: runner.handler, subscriptions: [] },
            { name: 'other', src: runner.handler, subscriptions: [] },
            { name: 'feeder', src: runner.handler, subscriptions: [] },
          ],
        },
      ],
    };
    const root = loadProtoRoot(`${runner.krtDir}/conformance.proto`);
    const Req = root.lookupType('conf.Req');
    const codec = new PayloadCodec(root);
    let p: Provisioned;
    let js: JetStreamClient;
    let xRunner: { stop(): Promise<unknown>; kill(): void };
    const started: { stop(): Promise<unknown>; kill(): void }[] = [];
    const seen: Seen[] = [];
    /** The observability records the runners published (decoded). */
    const records: Record<string, unknown>[] = [];
    const subs: Subscription[] = [];
    const subject = (node: string) => dp.names.nodeSubject('conf', 'v1', 'wf', node);
    // An entrypoint replica's reply subject: a version's workloads may publish to no other.
    const replyTo = dp.names.entrypointReplySubject('conf', 'v1', 'test');

    const start = async (node: string) => {
      const handle = await runner.start(await dp.runnerEnv(p, 'wf', node));
      started.push(handle);
      return handle;
    };

    beforeAll(async () => {
      await dp.connect();
      js = jetstream(dp.nc);
      p = await dp.provision(spec);
      const record = (msg: Msg) => {
        const envelope = decodeEnvelope(decompressIfNeeded(msg.data));
        seen.push({
          subject: msg.subject,
          headers: msg.headers,
          envelope,
          json: codec.unpack(envelope.payload),
        });
      };
      for (const s of [replyTo, subject('n'), `${subject('n')}.>`, subject('x'), subject('b')])
        subs.push(
          dp.nc.subscribe(s, {
            callback: (error, msg) => {
              if (!error) record(msg);
            },
          }),
        );
      subs.push(
        dp.nc.subscribe(`${dp.names.obsPrefix('conf')}.>`, {
          callback: (error, msg) => {
            const kind = msg.subject.slice(msg.subject.lastIndexOf('.') + 1) as RecordKind;
            if (!error) records.push(decodeRecord(kind, msg.data));
          },
        }),
      );
      await dp.nc.flush();
      await start('n');
      xRunner = await start('x');
      await start('b');
    });
    afterAll(async () => {
      for (const s of subs) s.unsubscribe();
      await Promise.all(started.map((s) => s.stop()));
      await dp.close();
    });

    const typed = (fields: Record<string, unknown>): AnyMessage => ({
      type_url: 'type.googleapis.com/conf.Req',
      value: Req.encode(Req.fromObject(fields)).finish(),
    });

    /** Publishes a request into `toNode`'s input as `fromNode`; returns its request id. */
    const send = async (
      fromNode: string,
      payload: AnyMessage | Uint8Array,
      options: { deadline?: number; withReply?: boolean } = {},
    ) => {
      const requestId = randomUUID();
      const h = natsHeaders();
      if (options.withReply !== false) h.set(KreHeader.replyTo, replyTo);
      h.set(KreHeader.requestId, requestId);
      h.set(KreHeader.traceparent, TRACEPARENT);
      h.set(KreHeader.deadline, String(options.deadline ?? Date.now() + 30_000));
      const data =
        payload instanceof Uint8Array
          ? payload
          : encodeEnvelope({ requestId, fromNode, messageType: MessageType.OK, payload });
      const to =
        fromNode === 'entrypoint'
          ? dp.names.entrypointSubject('conf', 'v1', 'wf')
          : subject(fromNode);
      await js.publish(to, data, { headers: h });
      return requestId;
    };

    const of = (requestId: string, where?: string) =>
      seen.filter((s) => s.envelope.requestId === requestId && (!where || s.subject === where));
    const waitFor = async (requestId: string, where: string, count = 1) => {
      await expect
        .poll(() => of(requestId, where).length, { timeout: 10_000 })
        .toBeGreaterThanOrEqual(count);
      return of(requestId, where);
    };
    const ackState = async (consumer: string) => {
      const info = await dp.jsm.consumers.info(p.plans.wf.stream, consumer);
      // consumer_seq counts deliveries, redeliveries included.
      return { pending: info.num_ack_pending, deliveries: info.delivered.consumer_seq };
    };

    it('OK: the output goes to the output subject with the request headers copied, not to kre-reply-to', async () => {
      const id = await send(
        'entrypoint',
        typed({ mode: 'echo', text: 'hi', n: '9007199254740993' }),
      );
      const [out] = await waitFor(id, subject('n'));
      expect(out.envelope).toMatchObject({
        requestId: id,
        fromNode: 'n',
        messageType: MessageType.OK,
      });
      expect(out.json).toMatchObject({
        mode: 'echo',
        text: 'hi',
        n: '9007199254740993',
        by: 'default',
        node: 'n',
      });
      for (const header of [KreHeader.replyTo, KreHeader.requestId, KreHeader.traceparent])
        expect(out.headers?.get(header)).toBeTruthy();
      expect(out.headers?.get(KreHeader.traceparent)).toBe(TRACEPARENT);
      await sleep(300);
      expect(of(id, replyTo)).toEqual([]);
    });

    it('OK from the exitpoint: to kre-reply-to and to its output subject (a node reads it)', async () => {
      const id = await send('feeder', codec.pack({ mode: 'echo', text: 'exit' }));
      const [reply] = await waitFor(id, replyTo);
      expect(reply.envelope.messageType).toBe(MessageType.OK);
      expect(reply.json).toMatchObject({ text: 'exit', node: 'x' });
      await waitFor(id, subject('x'));
    });

    if (runner.api === 'kre-py-v1')
      it('kre-py v1: the returned value is the one output (v1 has no sends)', async () => {
        const id = await send('entrypoint', typed({ mode: 'send-and-return' }));
        const [out] = await waitFor(id, subject('n'));
        expect(out.envelope.messageType).toBe(MessageType.OK);
        expect(out.json).toEqual({ step: 'returned' });
        await sleep(500);
        expect(of(id).map((s) => s.subject)).toEqual([subject('n')]);
      });
    else
      it('a returned value AND sendOutput: both are sent, channels on <output>.<channel>', async () => {
        // kre-py v3 ignores return values: its fixture sends "returned" as its last output.
        const id = await send('entrypoint', typed({ mode: 'send-and-return' }));
        const outs = await waitFor(id, subject('n'), 2);
        expect(outs.map((o) => o.json)).toEqual([{ step: 'sent' }, { step: 'returned' }]);
        const [side] = await waitFor(id, `${subject('n')}.side`);
        expect(side.json).toEqual({ step: 'channel' });
      });

    it('returning nothing sends nothing, and the message is acked (never redelivered)', async () => {
      const before = await ackState('n_entrypoint');
      const id = await send('entrypoint', typed({ mode: 'nothing' }));
      await sleep(2_500); // more than AckWait
      expect(of(id)).toEqual([]);
      const after = await ackState('n_entrypoint');
      expect(after).toEqual({ pending: 0, deliveries: before.deliveries + 1 });
    });

    it('EARLY_REPLY goes to kre-reply-to at once; the normal output still flows on', async () => {
      const id = await send('entrypoint', typed({ mode: 'early-reply' }));
      const [early] = await waitFor(id, replyTo);
      expect(early.envelope.messageType).toBe(MessageType.EARLY_REPLY);
      expect(early.json).toEqual({ step: 'early' });
      const [out] = await waitFor(id, subject('n'));
      expect(out.json).toEqual({ step: 'output' });
    });

    // kre-py v1: `ctx.early_exit()` (no message), then the return value is the EARLY_EXIT answer.
    it('EARLY_EXIT goes to kre-reply-to; nothing further flows', async () => {
      const id = await send('entrypoint', typed({ mode: 'early-exit' }));
      const [exit] = await waitFor(id, replyTo);
      expect(exit.envelope.messageType).toBe(MessageType.EARLY_EXIT);
      expect(exit.json).toEqual({ step: 'exit' });
      await sleep(500);
      expect(of(id, subject('n'))).toEqual([]);
    });

    it('ERROR when the handler throws: to kre-reply-to with the node and message; nothing downstream; acked', async () => {
      const id = await send('entrypoint', typed({ mode: 'throw', text: 'x1' }));
      const [error] = await waitFor(id, replyTo);
      expect(error.envelope.messageType).toBe(MessageType.ERROR);
      expect(error.envelope.error).toMatch(/node "n".*conformance failure x1/);
      await sleep(1_500);
      expect(of(id, subject('n'))).toEqual([]);
      expect(of(id, replyTo)).toHaveLength(1); // not redelivered
    });

    it('every observability record carries its own producer-made id (mongo-writer keys by it)', async () => {
      const id = await send('entrypoint', typed({ mode: 'throw', text: 'with an id' }));
      await expect
        .poll(() => records.filter((r) => r.requestId === id).length, { timeout: 10_000 })
        .toBeGreaterThan(0);
      const ids = records.map((r) => r.id);
      expect(ids.every((i) => typeof i === 'string' && RECORD_ID.test(i))).toBe(true);
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('ERROR when the handler runs past its timeout', async () => {
      const id = await send('entrypoint', typed({ mode: 'sleep', ms: 5_000 }));
      const [error] = await waitFor(id, replyTo);
      expect(error.envelope.messageType).toBe(MessageType.ERROR);
      expect(error.envelope.error).toContain('did not finish within 1.5 s');
      await sleep(300);
      expect(of(id, subject('n'))).toEqual([]);
    });

    it('picks the handler by from_node: handlers[from] when declared, the default otherwise', async () => {
      const special = await send('special', codec.pack({ mode: 'echo', text: 's' }));
      const [fromSpecial] = await waitFor(special, subject('n'));
      expect(fromSpecial.json).toEqual({
        by: 'special',
        fromNode: 'special',
        data: { mode: 'echo', text: 's' },
      });
      const other = await send('other', codec.pack({ mode: 'ctx' }));
      const [fromOther] = await waitFor(other, subject('n'));
      expect(fromOther.json).toEqual({ requestId: other, fromNode: 'other', ok: true });
    });

    it('an invalid message is answered with ERROR and not redelivered', async () => {
      const id = await send('entrypoint', new Uint8Array([0xff, 0x00, 0x13]));
      const [error] = await waitFor(id, replyTo);
      expect(error.envelope.messageType).toBe(MessageType.ERROR);
      expect(error.envelope.error).toContain('invalid message');
      await sleep(1_500);
      expect(of(id, replyTo)).toHaveLength(1);
    });

    it('skips a request whose deadline has passed (the entrypoint no longer waits)', async () => {
      const id = await send('entrypoint', typed({ mode: 'echo' }), { deadline: Date.now() - 1 });
      await sleep(1_500);
      expect(of(id)).toEqual([]);
      // The ack follows the reply: wait for it rather than race it.
      await expect
        .poll(async () => (await ackState('n_entrypoint')).pending, { timeout: 10_000 })
        .toBe(0);
    });

    it('extends AckWait with in-progress acks: a handler longer than AckWait is delivered once', async () => {
      const before = await ackState('x_feeder');
      const id = await send('feeder', codec.pack({ mode: 'sleep', ms: 2_500, text: 'long' }));
      const [reply] = await waitFor(id, replyTo);
      expect(reply.json).toEqual({ step: 'slept', text: 'long' });
      await sleep(300);
      expect(of(id, replyTo)).toHaveLength(1);
      await expect
        .poll(() => ackState('x_feeder'), { timeout: 10_000 })
        .toEqual({ pending: 0, deliveries: before.deliveries + 1 });
    });

    /** Publishes one batch's worth at once, as `bfeed`; the request ids in order. */
    const sendBatch = (items: Record<string, unknown>[]) =>
      Promise.all(items.map((fields) => send('bfeed', typed(fields))));

    it('batch: up to maxSize messages in one handlerBatch call, each request gets its own output', async () => {
      const before = await ackState('b_bfeed');
      const texts = ['a', 'b', 'c', 'd'];
      const ids = await sendBatch(texts.map((text) => ({ mode: 'echo', text })));
      for (const [i, id] of ids.entries()) {
        const [out] = await waitFor(id, subject('b'));
        expect(out.envelope).toMatchObject({
          requestId: id,
          fromNode: 'b',
          messageType: MessageType.OK,
        });
        expect(out.json).toEqual({ text: texts[i], size: BATCH_SIZE, requestId: id });
        expect(out.headers?.get(KreHeader.requestId)).toBe(id);
      }
      await expect
        .poll(() => ackState('b_bfeed'), { timeout: 10_000 })
        .toEqual({ pending: 0, deliveries: before.deliveries + BATCH_SIZE });
    });

    it('batch: a lone message is handled maxLatencyMs after it came, in a batch of one', async () => {
      const [id] = await sendBatch([{ mode: 'echo', text: 'alone' }]);
      const [out] = await waitFor(id, subject('b'));
      expect(out.json).toEqual({ text: 'alone', size: 1, requestId: id });
    });

    it("batch: one failing item gets its own ERROR; the others' outputs flow; all acked once", async () => {
      const before = await ackState('b_bfeed');
      const ids = await sendBatch([
        { mode: 'echo', text: 'ok1' },
        { mode: 'throw', text: 'item2' },
        { mode: 'send', text: 'sent3' },
        { mode: 'echo', text: 'ok4' },
      ]);
      const [error] = await waitFor(ids[1], replyTo);
      expect(error.envelope.messageType).toBe(MessageType.ERROR);
      expect(error.envelope.error).toMatch(/node "b".*conformance failure item2/);
      expect((await waitFor(ids[0], subject('b')))[0].json).toEqual({
        text: 'ok1',
        size: BATCH_SIZE,
        requestId: ids[0],
      });
      expect((await waitFor(ids[2], subject('b')))[0].json).toEqual({
        step: 'sent',
        text: 'sent3',
        requestId: ids[2],
      });
      expect((await waitFor(ids[3], subject('b')))[0].json).toEqual({
        text: 'ok4',
        size: BATCH_SIZE,
        requestId: ids[3],
      });
      await expect
        .poll(() => ackState('b_bfeed'), { timeout: 10_000 })
        .toEqual({ pending: 0, deliveries: before.deliveries + BATCH_SIZE });
      expect(of(ids[1], subject('b'))).toEqual([]);
      for (const id of [ids[0], ids[2], ids[3]]) expect(of(id, replyTo)).toEqual([]);
      expect(of(ids[1], replyTo)).toHaveLength(1);
    });

    it('batch: a wrong-length result or a throw fails each request of the batch with its own ERROR', async () => {
      for (const [bad, message] of [
        ['short', /returned 3 results for 4 messages/],
        ['raise', /conformance batch failure of 4/],
      ] as const) {
        const ids = await sendBatch([
          { mode: 'echo', text: '1' },
          { mode: bad, text: '2' },
          { mode: 'send', text: '3' },
          { mode: 'echo', text: '4' },
        ]);
        for (const id of ids) {
          const [error] = await waitFor(id, replyTo);
          expect(error.envelope).toMatchObject({ requestId: id, messageType: MessageType.ERROR });
          expect(error.envelope.error).toMatch(message);
          expect(error.headers?.get(KreHeader.requestId)).toBe(id);
        }
        // Acked after what it would have published: nothing of this batch went downstream.
        await expect
          .poll(async () => (await ackState('b_bfeed')).pending, { timeout: 10_000 })
          .toBe(0);
        await dp.nc.flush();
        for (const id of ids) expect(of(id, subject('b'))).toEqual([]);
      }
    });

    it('redelivers a message held by a killed replica to the next one', async () => {
      const before = await ackState('x_feeder');
      const id = await send('feeder', codec.pack({ mode: 'sleep', ms: 1_000, text: 'survivor' }));
      await sleep(300); // the replica holds it
      xRunner.kill();
      await start('x');
      const [reply] = await waitFor(id, replyTo);
      expect(reply.json).toEqual({ step: 'slept', text: 'survivor' });
      await expect
        .poll(() => ackState('x_feeder'), { timeout: 10_000 })
        .toEqual({ pending: 0, deliveries: before.deliveries + 2 });
    });
  });
}
