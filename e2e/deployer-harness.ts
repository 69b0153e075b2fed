import { createReadStream } from 'node:fs';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MongooseModule, getConnectionToken } from '@nestjs/mongoose';
import { Test } from '@nestjs/testing';
import { VersionStatus } from '@libs/core';
import { JobsModule, RuntimeJobsProducer, VersionJobsProducer } from '@libs/jobs';
import { openKrt, packKrt } from '@libs/krt';
import { Names } from '@libs/naming';
import { ObsRetentionStore } from '@libs/observability';
import {
  CatalogModule,
  ConfigCipher,
  KrtArchiveStore,
  RuntimesRepository,
  VersionsRepository,
  mongooseOptions,
} from '@libs/persistence';
import type { Connection } from 'mongoose';

/** What admin-api records and queues, for tests that drive the deployer process directly. */
export interface ControlPlane {
  runtimes: RuntimesRepository;
  versions: VersionsRepository;
  versionJobs: VersionJobsProducer;
  runtimeJobs: RuntimeJobsProducer;
  archives: KrtArchiveStore;
  cipher: ConfigCipher;
  /** Runtimes' observability retention settings (the platform database's `obsRetention`). */
  retention: ObsRetentionStore;
  close(): Promise<void>;
}

/** The catalog and the job producers on the test's services (close it after the tests). */
export async function openControlPlane(env: Record<string, string>): Promise<ControlPlane> {
  if (!env.CONFIG_ENCRYPTION_KEY) throw new Error('the test env needs a CONFIG_ENCRYPTION_KEY');
  const names = new Names(env.KRE_PREFIX);
  const moduleRef = await Test.createTestingModule({
    imports: [
      MongooseModule.forRoot(env.MONGO_URL, mongooseOptions(names.platformDb())),
      CatalogModule.forRoot({ configEncryptionKey: env.CONFIG_ENCRYPTION_KEY }),
      JobsModule.forRoot({
        redisUrl: env.REDIS_URL,
        prefix: names.queuePrefix(),
        role: 'producer',
      }),
    ],
  }).compile();
  const app = await moduleRef.init();
  return {
    runtimes: app.get(RuntimesRepository),
    versions: app.get(VersionsRepository),
    versionJobs: app.get(VersionJobsProducer),
    runtimeJobs: app.get(RuntimeJobsProducer),
    archives: app.get(KrtArchiveStore),
    cipher: app.get(ConfigCipher),
    retention: new ObsRetentionStore(
      app.get<Connection>(getConnectionToken()).getClient().db(names.platformDb()),
    ),
    close: () => app.close(),
  };
}

export interface SeedContext {
  /** A scratch folder of the test. */
  work: string;
  prefix: string;
  runtimeId: string;
  plane: ControlPlane;
}

/**
 * Stores what an upload of examples/greeter stores (manifest, archive chunks, sealed config
 * GREETING=Hello) as version `name`, for tests of the deployer (the upload has its own tests).
 * `customize` may change the copy of the example (files, kre.yaml) before it is packed.
 */
export async function seedGreeter(
  ctx: SeedContext,
  name: string,
  customize?: (dir: string) => Promise<void>,
): Promise<string> {
  const dir = join(ctx.work, name);
  await cp('examples/greeter', dir, { recursive: true });
  await customize?.(dir);
  const manifest = join(dir, 'kre.yaml');
  await writeFile(
    manifest,
    (await readFile(manifest, 'utf8')).replace(/^version: .*$/m, `version: ${name}`),
  );
  const krtFile = join(ctx.work, `${name}.krt`);
  await packKrt(dir, krtFile, { prefix: ctx.prefix });
  const { krt } = await openKrt(krtFile, { prefix: ctx.prefix });
  const stored = await ctx.plane.archives.save(
    ctx.runtimeId,
    krt.version,
    createReadStream(krtFile),
  );
  await ctx.plane.versions.create({
    runtimeId: ctx.runtimeId,
    name: krt.version,
    description: krt.description,
    status: VersionStatus.CREATED,
    krt,
    config: [
      {
        key: 'GREETING',
        type: 'VARIABLE',
        value: ctx.plane.cipher.encrypt('Hello', {
          runtimeId: ctx.runtimeId,
          versionName: krt.version,
          key: 'GREETING',
        }),
      },
    ],
    krtSize: stored.size,
    krtChunks: stored.chunks,
    krtSha256: stored.sha256,
    createdBy: 'e2e',
  });
  return krt.version;
}
