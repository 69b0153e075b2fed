import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { Names } from '@libs/naming';
import { testEnv } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats } from './nats.module.js';
import { NatsProvisioner } from './nats-provisioner.service.js';
import {
  planVersionResources,
  provisionVersionResources,
  removeVersionResources,
} from './version-resources.js';
import {
  deleteWorkflowStreams,
  provisionObservabilityStream,
  provisionWorkflowStreams,
  updateObservabilityStreamLimits,
} from './workflow-streams.js';

describe(provisionWorkflowStreams.name, () => {
  const env = testEnv();
  const names = new Names(env.KRE_PREFIX);
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const workflow = {
    name: 'wf',
    nodes: [
      { name: 'etl', subscriptions: [{ node: 'entrypoint' }] },
      { name: 'model', subscriptions: [{ node: 'etl' }] },
      { name: 'exit', subscriptions: [{ node: 'model' }, { node: 'model', channel: 'odd' }] },
    ],
  };

  beforeAll(async () => {
    nc = await connectNats({
      url: env.NATS_URL,
      credentials: env.NATS_CREDS,
      name: 'int-provision',
    });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    await nc.drain();
  });

  it('creates the stream and one durable consumer per input, and converges when run again', async () => {
    const plan = await provisionWorkflowStreams(jsm, names, 'demo', 'v1', workflow, {
      ackWaitMs: 2_000,
    });
    const stream = await jsm.streams.info(plan.stream);
    expect(stream.config).toMatchObject({
      retention: 'interest',
      subjects: [`${env.KRE_PREFIX}.demo.wf.v1.wf.>`],
    });
    const consumers = [];
    for await (const c of jsm.consumers.list(plan.stream)) consumers.push(c.config);
    expect(consumers.map((c) => c.durable_name).sort()).toEqual([
      'etl_entrypoint',
      'exit_model',
      'exit_model_odd',
      'model_etl',
    ]);
    expect(consumers.find((c) => c.durable_name === 'exit_model_odd')).toMatchObject({
      filter_subject: `${env.KRE_PREFIX}.demo.wf.v1.wf.model.odd`,
      ack_policy: 'explicit',
      ack_wait: 2_000_000_000,
      max_deliver: 3,
    });

    // A retried deploy with new settings converges instead of failing.
    await provisionWorkflowStreams(jsm, names, 'demo', 'v1', workflow, {
      ackWaitMs: 3_000,
      maxDeliver: 5,
    });
    const updated = await jsm.consumers.info(plan.stream, 'etl_entrypoint');
    expect(updated.config).toMatchObject({ ack_wait: 3_000_000_000, max_deliver: 5 });

    await deleteWorkflowStreams(jsm, names, 'demo', 'v1', 'wf');
    await deleteWorkflowStreams(jsm, names, 'demo', 'v1', 'wf'); // absent is fine
    await expect(jsm.streams.info(plan.stream)).rejects.toThrow(/stream not found/);
  });

  it("gives a node consumer's backlog as node autoscaling reads it: waiting, held, acknowledged", async () => {
    const plan = await provisionWorkflowStreams(jsm, names, 'demo', 'counted', workflow, {
      ackWaitMs: 30_000,
    });
    const js = jetstream(nc);
    for (let i = 0; i < 5; i++) await js.publish(plan.entrySubject, new Uint8Array([i]));
    const consumer = await js.consumers.get(plan.stream, 'etl_entrypoint');
    const taken = await consumer.fetch({ max_messages: 3, expires: 2_000 });
    let acked = 0;
    for await (const msg of taken) {
      if (acked < 2) {
        await msg.ackAck();
        acked++;
      }
      if (acked === 2) break;
    }
    const provisioner = new NatsProvisioner(nc, names);
    // 2 never delivered, 1 held (delivered, not acked), 2 acknowledged.
    expect(await provisioner.consumerBacklog(plan.stream, 'etl_entrypoint')).toEqual({
      pending: 2,
      ackPending: 1,
      acked: 2,
    });
    await deleteWorkflowStreams(jsm, names, 'demo', 'counted', 'wf');
  });

  const storesVersion = planVersionResources(names, 'demo', 'v1', [
    {
      name: 'wf',
      nodes: [
        {
          name: 'etl',
          subscriptions: [{ node: 'entrypoint' }],
          objectStore: { name: 'models', scope: 'workflow' },
        },
        { name: 'exit', subscriptions: [{ node: 'etl' }] },
      ],
    },
  ]);

  it('creates the observability stream and every resource of a version (idempotent)', async () => {
    for (let i = 0; i < 2; i++) {
      expect(await provisionObservabilityStream(jsm, names, 'demo')).toBe(names.obsStream('demo'));
      await provisionVersionResources(nc, storesVersion);
      const stores = storesVersion.nodeStores;
      expect(stores['wf/etl']).toEqual({
        project: names.projectBucket('demo', 'v1'),
        workflow: names.workflowBucket('demo', 'v1', 'wf'),
        node: names.nodeBucket('demo', 'v1', 'wf', 'etl'),
        objectStore: names.objectStore('demo', 'v1', 'models', 'wf'),
      });
    }
    await (await new Kvm(nc).open(names.nodeBucket('demo', 'v1', 'wf', 'exit'))).put('k', 'v');
    await (
      await new Objm(nc).open(names.objectStore('demo', 'v1', 'models', 'wf'))
    ).putBlob({ name: 'o' }, new Uint8Array([1]));
    expect((await jsm.streams.info(names.obsStream('demo'))).config.subjects).toEqual([
      `${env.KRE_PREFIX}.demo.obs.>`,
    ]);
  });

  it("gives the observability stream its runtime's quota, and changes it in place", async () => {
    const stream = names.obsStream('limits');
    const config = async () => (await jsm.streams.info(stream)).config;
    await provisionObservabilityStream(jsm, names, 'limits', {
      storage: 'memory',
      maxBytes: 8 * 2 ** 20,
      maxAgeMs: 36 * 3_600_000,
    });
    expect(await config()).toMatchObject({ max_bytes: 8 * 2 ** 20, max_age: 36 * 3_600e9 });
    // Records published before the change stay (the same stream, updated, not made again).
    await jsm.streams.purge(stream);
    for (let i = 0; i < 3; i++)
      await jetstream(nc).publish(`${env.KRE_PREFIX}.limits.obs.logs`, `record ${i}`);
    const limits = { maxBytes: 2 ** 20, maxAgeMs: 60_000 };
    expect(await updateObservabilityStreamLimits(jsm, names, 'limits', limits)).toBe(true);
    expect(await config()).toMatchObject({
      max_bytes: 2 ** 20,
      max_age: 60e9,
      duplicate_window: 60e9, // no longer than max_age, which JetStream requires
      subjects: [`${env.KRE_PREFIX}.limits.obs.>`],
    });
    expect((await jsm.streams.info(stream)).state.messages).toBe(3);
    // No stream (not created yet, or deleted): nothing is made.
    expect(await updateObservabilityStreamLimits(jsm, names, 'nostream', limits)).toBe(false);
    await expect(jsm.streams.info(names.obsStream('nostream'))).rejects.toThrow(/stream not found/);
    await jsm.streams.delete(stream);
  });

  it('removes every resource of a version it enumerates, and again when they are gone', async () => {
    await provisionVersionResources(nc, storesVersion);
    for (let i = 0; i < 2; i++) await removeVersionResources(nc, storesVersion);
    for (const bucket of storesVersion.keyValueStores)
      await expect(jsm.streams.info(`KV_${bucket}`)).rejects.toThrow(/stream not found/);
    for (const store of storesVersion.objectStores)
      await expect(jsm.streams.info(`OBJ_${store}`)).rejects.toThrow(/stream not found/);
    await expect(jsm.streams.info(storesVersion.workflows[0].stream)).rejects.toThrow(
      /stream not found/,
    );
  });
});
