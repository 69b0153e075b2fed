import { createReadStream } from 'node:fs';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VersionStatus } from '@libs/core';
import { openKrt, packKrt } from '@libs/krt';
import type { ConfigCipher, KrtArchiveStore, VersionsRepository } from '@libs/persistence';

export interface SeedContext {
  /** A scratch folder of the test. */
  work: string;
  prefix: string;
  runtimeId: string;
  archives: KrtArchiveStore;
  versions: VersionsRepository;
  cipher: ConfigCipher;
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
  const stored = await ctx.archives.save(ctx.runtimeId, krt.version, createReadStream(krtFile));
  await ctx.versions.create({
    runtimeId: ctx.runtimeId,
    name: krt.version,
    description: krt.description,
    status: VersionStatus.CREATED,
    krt,
    config: [{ key: 'GREETING', type: 'VARIABLE', value: ctx.cipher.encrypt('Hello') }],
    krtSize: stored.size,
    krtChunks: stored.chunks,
    krtSha256: stored.sha256,
    createdBy: 'e2e',
  });
  return krt.version;
}
