import {
  AckPolicy,
  DeliverPolicy,
  RetentionPolicy,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { Names } from '@libs/naming';
import { testEnv } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats } from './nats.module.js';

describe('NATS JetStream on the test server', () => {
  const env = testEnv();
  const names = new Names(env.KRE_PREFIX);
  let nc: NatsConnection;

  beforeAll(async () => {
    nc = await connectNats({ url: env.NATS_URL, credentials: env.NATS_CREDS, name: 'int-test' });
  });
  afterAll(async () => {
    await nc.drain();
  });

  it('publishes to a stream and a durable consumer receives and acks the message', async () => {
    const jsm = await jetstreamManager(nc);
    const stream = names.workflowStream('demo', 'v1', 'wf');
    const subject = names.entrypointSubject('demo', 'v1', 'wf');
    await jsm.streams.add({
      name: stream,
      subjects: [`${names.workflowSubjectRoot('demo', 'v1', 'wf')}.>`],
      retention: RetentionPolicy.Interest,
    });
    const durable = names.consumer('first', 'entrypoint');
    await jsm.consumers.add(stream, {
      durable_name: durable,
      filter_subject: subject,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: 5_000_000_000,
    });

    const js = jetstream(nc);
    const ack = await js.publish(subject, JSON.stringify({ hello: 'world' }), {
      headers: undefined,
    });
    expect(ack.stream).toBe(stream);

    const consumer = await js.consumers.get(stream, durable);
    const message = await consumer.next({ expires: 5_000 });
    expect(message?.json()).toEqual({ hello: 'world' });
    expect(await message!.ackAck()).toBe(true);

    // Acked under interest retention: the stream lets go of it.
    const info = await jsm.consumers.info(stream, durable);
    expect(info.num_ack_pending).toBe(0);
    expect((await jsm.streams.info(stream)).state.messages).toBe(0);
  });

  it('puts and gets a value in a KV bucket', async () => {
    const kv = await new Kvm(nc).create(names.gatewayBucket());
    await kv.put(
      'demo',
      JSON.stringify({ version: 'v1', http: '127.0.0.1:1', grpc: '127.0.0.1:2' }),
    );
    const entry = await kv.get('demo');
    expect(entry?.json()).toEqual({ version: 'v1', http: '127.0.0.1:1', grpc: '127.0.0.1:2' });
    expect(await kv.get('missing')).toBeNull();
  });
});
