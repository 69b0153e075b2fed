import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { jetstream } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, storeVersionKrt } from '@libs/messaging';
import { testEnv } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { v2Files } from '../../krt/src/testing/krt.fixtures.js';
import { filesTar, gzip } from '../../krt/src/testing/tar.builder.js';
import { KrtDigestMismatchError, fetchKrt } from './fetch-krt.js';

const env = testEnv();

describe(fetchKrt.name, () => {
  let nc: NatsConnection;
  let dir: string;
  const krt = { bucket: `${env.KRE_PREFIX}_demo_krt`, key: 'v1' };
  const archive = gzip(filesTar(v2Files()));

  beforeAll(async () => {
    nc = await connectNats({ url: env.NATS_URL, credentials: env.NATS_CREDS, name: 'fetch-krt' });
    dir = await mkdtemp(join(tmpdir(), 'kre-fetch-'));
  });
  afterAll(async () => {
    await nc?.drain();
    await rm(dir, { recursive: true, force: true });
  });

  it('extracts the copy whose sha256 the deployer recorded, and keeps it while it is unchanged', async () => {
    const sha256 = await storeVersionKrt(nc, krt, Readable.from([archive]));
    expect(sha256).toBe(createHash('sha256').update(archive).digest('hex'));
    const dest = join(dir, 'ok');
    const options = { ...krt, dest, prefix: env.KRE_PREFIX, sha256 };
    expect(await fetchKrt(nc, options)).toBe('fetched');
    expect(await readFile(join(dest, 'kre.yaml'), 'utf8')).toContain('krtVersion: v2');
    expect(await fetchKrt(nc, options)).toBe('unchanged');
  });

  it('refuses a copy replaced behind the deployer (a valid KRT, but not the one it stored)', async () => {
    const sha256 = await storeVersionKrt(nc, krt, Readable.from([archive]));
    const tampered = gzip(
      filesTar({ ...v2Files(), 'src/extra.js': 'globalThis.stolen = process.env;' }),
    );
    // Whoever could write the store (before per-runtime identities, any NATS client could).
    const store = await new Objm(jetstream(nc)).open(krt.bucket);
    await store.putBlob({ name: krt.key }, tampered);
    const dest = join(dir, 'tampered');
    await expect(
      fetchKrt(nc, { ...krt, dest, prefix: env.KRE_PREFIX, sha256 }),
    ).rejects.toBeInstanceOf(KrtDigestMismatchError);
    // Nothing half-written is left where the workload would look.
    await expect(readFile(join(dest, 'kre.yaml'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
