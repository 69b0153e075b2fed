import { RetentionPolicy, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { testEnv } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats } from '../nats.module.js';
import { JetStreamPublisher, PublishError } from './jetstream-publisher.js';

describe(JetStreamPublisher.name, () => {
  const env = testEnv();
  let nc: NatsConnection;
  let sut: JetStreamPublisher;

  beforeAll(async () => {
    nc = await connectNats({
      url: env.NATS_URL,
      credentials: env.NATS_CREDS,
      name: 'int-publisher',
    });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: `${env.KRE_PREFIX}_pub`,
      subjects: [`${env.KRE_PREFIX}.pub.>`],
      retention: RetentionPolicy.Limits,
    });
    sut = new JetStreamPublisher(nc, 2_000);
  });
  afterAll(async () => {
    sut.close();
    await nc.drain();
  });

  it('resolves with the PubAck, and marks a repeated message id as a duplicate', async () => {
    const first = await sut.publish(`${env.KRE_PREFIX}.pub.a`, new Uint8Array([1]), {
      msgID: 'm-1',
    });
    expect(first).toMatchObject({ stream: `${env.KRE_PREFIX}_pub`, seq: 1 });
    expect(
      await sut.publish(`${env.KRE_PREFIX}.pub.a`, new Uint8Array([1]), { msgID: 'm-1' }),
    ).toMatchObject({
      seq: 1,
      duplicate: true,
    });
    const many = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        sut.publish(`${env.KRE_PREFIX}.pub.b`, new Uint8Array([i % 256])),
      ),
    );
    expect(new Set(many.map((a) => a.seq)).size).toBe(200);
  });

  it('fails clearly when no stream takes the subject', async () => {
    await expect(sut.publish(`${env.KRE_PREFIX}.nowhere`, new Uint8Array())).rejects.toThrow(
      PublishError,
    );
    await expect(sut.publish(`${env.KRE_PREFIX}.nowhere`, new Uint8Array())).rejects.toThrow(
      'no stream takes this subject (no responders)',
    );
  });
});
