import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { Test } from '@nestjs/testing';
import { InvalidTransitionError, VersionStatus } from '@libs/core';
import type { Krt } from '@libs/krt';
import { testEnv } from '@libs/testing';
import { MongooseModule, getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mongooseOptions } from '../persistence.module.js';
import { CatalogModule } from './catalog.module.js';
import {
  KRT_CHUNK_BYTES,
  KrtArchiveStore,
  RuntimesRepository,
  VersionsRepository,
} from './catalog.repositories.js';

const krt = { version: 'v1', workflows: [] } as unknown as Krt;

describe('catalog repositories', () => {
  const env = testEnv();
  let close: () => Promise<void>;
  let runtimes: RuntimesRepository;
  let versions: VersionsRepository;
  let archives: KrtArchiveStore;
  let connection: Connection;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        MongooseModule.forRoot(env.MONGO_URL, mongooseOptions(env.KRE_PREFIX)),
        CatalogModule.forRoot({ configEncryptionKey: randomBytes(32).toString('base64') }),
      ],
    }).compile();
    const app = await moduleRef.init();
    runtimes = app.get(RuntimesRepository);
    versions = app.get(VersionsRepository);
    archives = app.get(KrtArchiveStore);
    connection = app.get(getConnectionToken());
    close = async () => {
      await connection.dropDatabase();
      await app.close();
    };
  });
  afterAll(() => close());

  const newVersion = (runtimeId: string, name: string) =>
    versions.create({
      runtimeId,
      name,
      description: '',
      status: VersionStatus.CREATED,
      krt,
      config: [],
      krtSize: 0,
      krtChunks: 0,
      krtSha256: '',
      createdBy: 'u1',
    });

  it('refuses a second runtime with the same id', async () => {
    await runtimes.create({ _id: 'demo', name: 'Demo', description: '', createdBy: 'u1' });
    await expect(
      runtimes.create({ _id: 'demo', name: 'Again', description: '', createdBy: 'u2' }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await runtimes.get('demo')).name).toBe('Demo');
  });

  it('of concurrent transitions from the same status exactly one wins; the others name the status they found', async () => {
    await newVersion('demo', 'race');
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () =>
        versions.transition('demo', 'race', [VersionStatus.CREATED], VersionStatus.STARTING),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const losers = results
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .map((r) => r.reason as Error);
    expect(losers).toHaveLength(5);
    for (const error of losers) {
      expect(error).toBeInstanceOf(InvalidTransitionError);
      expect(error.message).toBe('cannot go from STARTING to STARTING');
    }
    expect((await versions.get('demo', 'race')).status).toBe(VersionStatus.STARTING);
  });

  it('keeps one published version per runtime', async () => {
    for (const name of ['p1', 'p2']) {
      await newVersion('demo', name);
      await versions.setStatus('demo', name, VersionStatus.STARTED);
    }
    expect(await versions.publish('demo', 'p1', 'u1')).toBeUndefined();
    expect(await versions.publish('demo', 'p2', 'u1')).toBe('p1');
    expect((await versions.get('demo', 'p1')).status).toBe(VersionStatus.STARTED);
    expect(await versions.get('demo', 'p2')).toMatchObject({
      status: VersionStatus.PUBLISHED,
      publishedBy: 'u1',
    });
  });

  it("keeps each node's autoscaling bounds beside the idle time, replaces them, and forgets them on null", async () => {
    await newVersion('demo', 'scaled');
    await versions.setIdleSeconds('demo', 'scaled', 300);
    const model = { workflow: 'classify', node: 'model' };
    await versions.setNodeAutoscale('demo', 'scaled', model, { min: 1, max: 3 });
    await versions.setNodeAutoscale(
      'demo',
      'scaled',
      { workflow: 'classify', node: 'etl' },
      {
        min: 2,
        max: 2,
      },
    );
    const replaced = await versions.setNodeAutoscale('demo', 'scaled', model, { min: 2, max: 5 });
    expect(replaced.scale?.idleSeconds).toBe(300);
    expect(replaced.scale?.autoscale).toEqual([
      { workflow: 'classify', node: 'etl', min: 2, max: 2 },
      { workflow: 'classify', node: 'model', min: 2, max: 5 },
    ]);
    const cleared = await versions.setNodeAutoscale('demo', 'scaled', model, null);
    expect(cleared.scale?.autoscale).toEqual([
      { workflow: 'classify', node: 'etl', min: 2, max: 2 },
    ]);
  });

  it("keeps the entrypoint's autoscaling bounds beside the nodes', and forgets them on null", async () => {
    await newVersion('demo', 'entry');
    await versions.setNodeAutoscale(
      'demo',
      'entry',
      { workflow: 'classify', node: 'etl' },
      {
        min: 1,
        max: 2,
      },
    );
    const set = await versions.setEntrypointAutoscale('demo', 'entry', { min: 1, max: 4 });
    expect(set.scale).toMatchObject({
      entrypointAutoscale: { min: 1, max: 4 },
      autoscale: [{ workflow: 'classify', node: 'etl', min: 1, max: 2 }],
    });
    const cleared = await versions.setEntrypointAutoscale('demo', 'entry', null);
    expect(cleared.scale?.entrypointAutoscale).toBeUndefined();
    expect(cleared.scale?.autoscale).toHaveLength(1);
    await expect(
      versions.setEntrypointAutoscale('demo', 'nope', { min: 1, max: 2 }),
    ).rejects.toThrow();
  });

  it('keeps the counts autoscaling applied while awake, and forgets them with the next change of state', async () => {
    await newVersion('demo', 'counted');
    // Not awake: nothing is written.
    await versions.setScaleReplicas('demo', 'counted', 6, { 'classify.model': 3 });
    expect((await versions.get('demo', 'counted')).scale?.nodeReplicas).toBeUndefined();
    await versions.setScaleState('demo', 'counted', 'AWAKE', 4);
    await versions.setScaleReplicas('demo', 'counted', 6, { 'classify.model': 3 });
    expect((await versions.get('demo', 'counted')).scale).toMatchObject({
      state: 'AWAKE',
      replicas: 6,
      nodeReplicas: [{ workload: 'classify.model', replicas: 3 }],
    });
    await versions.setScaleState('demo', 'counted', 'SLEEPING', 0);
    const asleep = (await versions.get('demo', 'counted')).scale;
    expect(asleep).toMatchObject({ state: 'SLEEPING', replicas: 0 });
    expect(asleep?.nodeReplicas).toBeUndefined();
  });

  it('refuses a duplicate version name in a runtime, but not in another runtime', async () => {
    await expect(newVersion('demo', 'p1')).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(newVersion('other', 'p1')).resolves.toMatchObject({ _id: 'other:p1' });
  });

  it('stores an archive as chunks and streams it back byte for byte', async () => {
    const data = randomBytes(KRT_CHUNK_BYTES * 2 + 1234);
    const saved = await archives.save(
      'demo',
      'v9',
      Readable.from([data.subarray(0, 1000), data.subarray(1000)]),
    );
    expect(saved).toMatchObject({ size: data.length, chunks: 3 });
    expect((await buffer(archives.open('demo', 'v9', saved.chunks))).equals(data)).toBe(true);
    await archives.remove('demo', 'v9', saved.chunks);
    await expect(buffer(archives.open('demo', 'v9', saved.chunks))).rejects.toThrow(
      /chunk 0 of demo\/v9 is missing/,
    );
  });

  it('stores a file given by path exactly as the same bytes streamed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kre-archive-'));
    try {
      for (const [name, size] of [
        ['f1', KRT_CHUNK_BYTES * 2],
        ['f2', KRT_CHUNK_BYTES + 1],
        ['f3', 10],
      ] as const) {
        const data = randomBytes(size);
        const file = join(dir, name);
        await writeFile(file, data);
        const fromFile = await archives.save('demo', name, file);
        const fromStream = await archives.save('demo', `${name}s`, Readable.from([data]));
        expect(fromFile).toEqual({
          size,
          chunks: Math.ceil(size / KRT_CHUNK_BYTES),
          sha256: createHash('sha256').update(data).digest('hex'),
        });
        expect(fromStream).toEqual(fromFile);
        expect((await buffer(archives.open('demo', name, fromFile.chunks))).equals(data)).toBe(
          true,
        );
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('leaves no chunk behind when the upload stream fails midway', async () => {
    const failing = Readable.from(
      (async function* () {
        yield randomBytes(KRT_CHUNK_BYTES + 10);
        await new Promise((resolve) => setImmediate(resolve));
        throw new Error('client went away');
      })(),
    );
    await expect(archives.save('demo', 'broken', failing)).rejects.toThrow('client went away');
    expect(
      await connection
        .collection('krt_chunks')
        .countDocuments({ _id: { $regex: '^demo:broken:' } } as never),
    ).toBe(0);
  });
});
