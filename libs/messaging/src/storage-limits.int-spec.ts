import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { Names } from '@libs/naming';
import { testEnv } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats } from './nats.module.js';
import {
  planVersionResources,
  provisionVersionResources,
  removeVersionResources,
} from './version-resources.js';

const KI = 1024;

/** The runtime's storage quota as NATS enforces it: every JetStream resource of a version bounded. */
describe('storage limits of a version (issue #13)', () => {
  const env = testEnv();
  const names = new Names(env.KRE_PREFIX);
  let nc: NatsConnection;
  const workflows = [
    {
      name: 'wf',
      nodes: [
        {
          name: 'etl',
          subscriptions: [{ node: 'entrypoint' }],
          objectStore: { name: 'models', scope: 'project' as const },
        },
      ],
    },
  ];
  const limited = planVersionResources(
    names,
    'quota',
    'v1',
    workflows,
    { maxBytes: 64 * KI },
    { keyValue: 16 * KI, objectStore: 32 * KI },
  );

  beforeAll(async () => {
    nc = await connectNats({ url: env.NATS_URL, credentials: env.NATS_CREDS, name: 'int-limits' });
  });
  afterAll(async () => {
    await removeVersionResources(nc, limited);
    await nc.drain();
  });

  it('sizes workflow streams, KV buckets and object stores, made before without limits too', async () => {
    const jsm = await jetstreamManager(nc);
    // A version started before quotas: its buckets exist, unbounded.
    const { storeMaxBytes: _, ...unbounded } = limited;
    await provisionVersionResources(nc, {
      ...unbounded,
      workflows: unbounded.workflows.map((w) => ({
        ...w,
        streamConfig: { ...w.streamConfig, max_bytes: -1 },
      })),
    });
    expect((await jsm.streams.info(`KV_${limited.keyValueStores[0]}`)).config.max_bytes).toBe(-1);

    await provisionVersionResources(nc, limited);
    expect((await jsm.streams.info(limited.workflows[0].stream)).config.max_bytes).toBe(64 * KI);
    for (const bucket of limited.keyValueStores)
      expect((await jsm.streams.info(`KV_${bucket}`)).config.max_bytes).toBe(16 * KI);
    expect(limited.objectStores).toHaveLength(1);
    expect((await jsm.streams.info(`OBJ_${limited.objectStores[0]}`)).config.max_bytes).toBe(
      32 * KI,
    );
  });

  it('refuses a write past the limit, and keeps what was stored', async () => {
    const kv = await new Kvm(nc).open(limited.keyValueStores[0]);
    await kv.put('small', 'x'.repeat(KI));
    await expect(kv.put('big', 'x'.repeat(20 * KI))).rejects.toThrow(
      /maximum bytes|resource limits|insufficient/i,
    );
    expect((await kv.get('small'))?.string()).toHaveLength(KI);
    const store = await new Objm(nc).open(limited.objectStores[0]);
    await expect(store.putBlob({ name: 'model' }, new Uint8Array(64 * KI))).rejects.toThrow();
  });
});
