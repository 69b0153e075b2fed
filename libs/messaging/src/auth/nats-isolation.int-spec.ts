import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Names } from '@libs/naming';
import { engineCredentials, testEnv } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats } from '../nats.module.js';
import {
  planVersionResources,
  provisionRuntimeNatsResources,
  provisionVersionResources,
  storeVersionKrt,
  type VersionResources,
} from '../version-resources.js';
import { openGatewayRoutes } from '../gateway-routes.js';
import { WorkloadIdentities } from './workload-identities.service.js';

const env = testEnv();
const names = new Names(env.KRE_PREFIX);

const workflow = {
  name: 'wf',
  nodes: [
    { name: 'a', subscriptions: [{ node: 'entrypoint' }] },
    { name: 'b', subscriptions: [{ node: 'a' }] },
  ],
};

/** Waits for the server's permission error about `subject` on `nc` (async, as NATS sends it). */
async function violation(nc: NatsConnection, subject: string): Promise<string> {
  for await (const status of nc.status()) {
    if (status.type === 'error' && String(status.error).includes(subject)) return subject;
    if (status.type === 'error' && (status.error as { subject?: string }).subject === subject)
      return subject;
  }
  throw new Error('connection closed before the violation arrived');
}

/** Resolves with "refused" when `work` fails with a permission error, else with what it gave. */
async function attempt(work: () => Promise<unknown>): Promise<unknown> {
  try {
    return await work();
  } catch (error) {
    return /permission|authorization|violation/i.test(String(error)) ? 'refused' : String(error);
  }
}

describe('NATS identities: what a version of runtime A can and cannot do (hostile tenant)', () => {
  let engine: NatsConnection;
  let identities: WorkloadIdentities;
  let a: VersionResources;
  let b: VersionResources;
  let tenant: NatsConnection;
  let credsFile: string;
  const dir = mkdtempSync(join(tmpdir(), 'kre-nats-iso-'));

  beforeAll(async () => {
    engine = await connectNats({ url: env.NATS_URL, credentials: env.NATS_CREDS, name: 'engine' });
    a = planVersionResources(names, 'rta', 'v1', [workflow]);
    b = planVersionResources(names, 'rtb', 'v1', [workflow]);
    for (const resources of [a, b]) {
      await provisionVersionResources(engine, resources, { storage: 'memory' });
      await provisionRuntimeNatsResources(engine, names, resources.runtimeId);
      await storeVersionKrt(engine, resources.krt, Readable.from([Buffer.from('krt')]));
    }
    await openGatewayRoutes(engine, names);
    identities = new WorkloadIdentities(engine, names, {
      file: env.NATS_AUTHORITY_FILE,
      url: env.NATS_URL,
    });
    const pins = await identities.pin(a, 'a'.repeat(64));
    credsFile = join(dir, 'a.creds');
    writeFileSync(credsFile, pins.credentials, { mode: 0o600 });
    tenant = await connectNats({
      url: env.NATS_URL,
      credentials: credsFile,
      inboxPrefix: names.workloadInboxPrefix('rta', 'v1'),
      name: 'tenant-a',
    });
  });
  afterAll(async () => {
    await tenant?.close();
    await identities?.onApplicationShutdown();
    await engine?.drain();
  });

  it('refuses an anonymous connection', async () => {
    expect(await attempt(() => connect({ servers: env.NATS_URL, maxReconnectAttempts: 0 }))).toBe(
      'refused',
    );
  });

  it("does its own work: publishes into its version's stream, uses its buckets, reads its KRT copy, publishes records", async () => {
    const js = jetstream(tenant, { checkAPI: false });
    const ack = await js.publish(a.workflows[0].entrySubject, 'hello');
    expect(ack.stream).toBe(a.workflows[0].stream);
    const kv = await new Kvm(js).open(a.nodeStores['wf/a'].node);
    await kv.put('k', 'v');
    expect((await kv.get('k'))?.string()).toBe('v');
    const krt = await new Objm(js).open(a.krt.bucket);
    expect(Buffer.from((await krt.getBlob(a.krt.key)) ?? []).toString()).toBe('krt');
    const obs = await js.publish(names.obsSubject('rta', 'logs'), '{}');
    expect(obs.stream).toBe(names.obsStream('rta'));
    const consumer = await js.consumers.get(
      a.workflows[0].stream,
      a.workflows[0].consumers[0].durable_name,
    );
    expect((await consumer.info()).name).toBe(a.workflows[0].consumers[0].durable_name);
  });

  it("cannot listen to another runtime's subjects, the engine's, everything, or other tenants' replies", async () => {
    for (const subject of [
      names.versionSubjects('rtb', 'v1'),
      `${names.prefix}.rtb.>`,
      `${names.prefix}.svc.>`,
      '>',
      '_INBOX.>',
      `${names.workloadInboxPrefix('rtb', 'v1')}.>`,
      `$KV.${names.gatewayBucket()}.>`,
    ]) {
      const refused = violation(tenant, subject);
      tenant.subscribe(subject);
      expect(await refused).toBe(subject);
    }
  });

  it("cannot publish into another runtime, the engine's service subjects, or join mongo-writer's queue group", async () => {
    for (const subject of [
      b.workflows[0].entrySubject,
      names.dataSubject('rtb', 'find'),
      names.obsSubject('rtb', 'logs'),
      names.serviceSubject('admin-api', 'revoked'),
      `$KV.${names.gatewayBucket()}.rta`,
      `$O.${b.krt.bucket}.C.x`,
      `$O.${a.krt.bucket}.C.x`,
    ]) {
      const refused = violation(tenant, subject);
      tenant.publish(subject, 'evil');
      expect(await refused).toBe(subject);
    }
    const queue = names.dataSubject('*', 'find');
    const refused = violation(tenant, queue);
    tenant.subscribe(queue, { queue: `${names.prefix}-mongo-writer` });
    expect(await refused).toBe(queue);
  });

  it("cannot manage streams, read the engine's buckets, or overwrite a KRT copy (its own or another runtime's)", async () => {
    const jsm = await jetstreamManager(tenant, { checkAPI: false });
    const js = jetstream(tenant, { checkAPI: false });
    expect(await attempt(() => jsm.streams.delete(a.workflows[0].stream))).toBe('refused');
    expect(await attempt(() => jsm.streams.delete(b.workflows[0].stream))).toBe('refused');
    expect(await attempt(() => jsm.streams.add({ name: 'EVIL', subjects: ['evil.>'] }))).toBe(
      'refused',
    );
    expect(await attempt(() => jsm.streams.info(b.workflows[0].stream))).toBe('refused');
    expect(await attempt(() => jsm.getAccountInfo())).toBe('refused');
    expect(
      await attempt(async () => (await new Kvm(js).open(names.deploymentsBucket())).get('rtb.v1')),
    ).toBe('refused');
    expect(
      await attempt(async () => (await new Kvm(js).open(names.gatewayBucket())).put('rta', '{}')),
    ).toBe('refused');
    expect(
      await attempt(async () => (await new Objm(js).open(b.krt.bucket)).getBlob(b.krt.key)),
    ).toBe('refused');
    expect(
      await attempt(async () =>
        (await new Objm(js).open(a.krt.bucket)).putBlob({ name: a.krt.key }, new Uint8Array(3)),
      ),
    ).toBe('refused');
    // The stores are untouched.
    const krt = await new Objm(jetstream(engine)).open(a.krt.bucket);
    expect(Buffer.from((await krt.getBlob(a.krt.key)) ?? []).toString()).toBe('krt');
  });

  it('engine apps hold only what they use: the gateway cannot read workflow streams, mongo-writer cannot publish', async () => {
    const gateway = await connectNats({
      url: env.NATS_URL,
      credentials: await engineCredentials(env, 'gateway'),
      name: 'gateway',
    });
    const writer = await connectNats({
      url: env.NATS_URL,
      credentials: await engineCredentials(env, 'mongo-writer'),
      name: 'mongo-writer',
    });
    try {
      const refused = violation(gateway, names.versionSubjects('rta', 'v1'));
      gateway.subscribe(names.versionSubjects('rta', 'v1'));
      expect(await refused).toBe(names.versionSubjects('rta', 'v1'));
      const routes = await new Kvm(jetstream(gateway)).open(names.gatewayBucket());
      expect(await attempt(() => routes.put('rta', '{}'))).toBe('refused');
      const writerRefused = violation(writer, a.workflows[0].entrySubject);
      writer.publish(a.workflows[0].entrySubject, 'x');
      expect(await writerRefused).toBe(a.workflows[0].entrySubject);
    } finally {
      await gateway.close();
      await writer.close();
    }
  });

  it('the pins are kept across calls, and revocation at stop cuts the version off and refuses it from then on', async () => {
    expect((await identities.pin(a)).credentials).toBe((await identities.pin(a)).credentials);
    expect((await identities.pin(a)).krtSha256).toBe('a'.repeat(64));
    const closed = tenant.closed();
    const statuses: string[] = [];
    void (async () => {
      for await (const status of tenant.status()) statuses.push(status.type);
    })();
    await identities.revoke('rta', 'v1');
    // The server disconnects it; reconnecting is refused.
    await expect
      .poll(() => statuses.includes('disconnect') || tenant.isClosed(), { timeout: 10_000 })
      .toBe(true);
    expect(
      await attempt(() =>
        connectNats({ url: env.NATS_URL, credentials: credsFile, name: 'tenant-again' }).then(
          (nc) => nc.close(),
        ),
      ),
    ).toBe('refused');
    await tenant.close();
    await closed;
    // A new start gets a new identity, which works.
    const fresh = await identities.pin(a);
    writeFileSync(credsFile, fresh.credentials);
    const again = await connectNats({
      url: env.NATS_URL,
      credentials: credsFile,
      inboxPrefix: names.workloadInboxPrefix('rta', 'v1'),
      name: 'tenant-restarted',
    });
    await jetstream(again, { checkAPI: false }).publish(a.workflows[0].entrySubject, 'hi');
    await again.close();
  });
});
