import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Objm } from '@nats-io/obj';
import { extractKrt } from '@libs/krt';

const MARKER = '.kre-fetched';

export interface FetchKrtOptions {
  /** Object store holding prepared KRTs (`<p>_<rt>_krt`). */
  bucket: string;
  /** The version name (object key). */
  key: string;
  /** Where the KRT root ends up (`KRT_BASE_PATH`). */
  dest: string;
  /** Installation prefix, for the validator's derived-name limits. */
  prefix: string;
  /**
   * sha256 (hex) the deployer recorded when it stored the copy (`KRT_ARCHIVE_SHA256`): another
   * archive under the key is refused, whoever put it there.
   */
  sha256: string;
}

/** The KRT copy in the store is not the one the deployer stored. */
export class KrtDigestMismatchError extends Error {
  constructor(key: string, expected: string, actual: string) {
    super(
      `the KRT copy of version "${key}" is not the one the deployer stored (sha256 ${actual.slice(0, 12)}…, expected ${expected.slice(0, 12)}…): it was replaced or damaged; start the version again to store a fresh copy`,
    );
    this.name = 'KrtDigestMismatchError';
  }
}

/**
 * The fetch step of every workload (`runner fetch-krt`: the local driver runs it before starting
 * a version, Kubernetes as an init container): takes the prepared KRT from the object store
 * and extracts it with libs/krt's hardened reader. Idempotent: a destination already holding
 * the same object (by digest) is kept.
 * @throws when the object is missing or the archive is not a valid KRT.
 */
export async function fetchKrt(
  nc: NatsConnection,
  options: FetchKrtOptions,
): Promise<'fetched' | 'unchanged'> {
  const store = await new Objm(jetstream(nc, { checkAPI: false })).open(options.bucket);
  const info = await store.info(options.key);
  if (!info || info.deleted)
    throw new Error(`KRT "${options.key}" is not in object store "${options.bucket}"`);
  const current = await readFile(join(options.dest, MARKER), 'utf8').catch(() => null);
  if (current === options.sha256) return 'unchanged';

  const result = await store.get(options.key);
  if (!result)
    throw new Error(`KRT "${options.key}" vanished from object store "${options.bucket}"`);
  const staging = `${options.dest}.fetch-${randomBytes(4).toString('hex')}`;
  const hash = createHash('sha256');
  const hashed = Readable.fromWeb(result.data).pipe(
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    }),
  );
  try {
    await extractKrt(hashed, { dest: staging, prefix: options.prefix });
    const failure = await result.error;
    if (failure) throw new Error(`reading KRT "${options.key}" failed: ${failure.message}`);
    // The digest covers every byte, also any the archive reader left unread after its end.
    if (!hashed.readableEnded) for await (const _ of hashed);
    const actual = hash.digest('hex');
    if (actual !== options.sha256)
      throw new KrtDigestMismatchError(options.key, options.sha256, actual);
    await writeFile(join(staging, MARKER), options.sha256);
    await rm(options.dest, { recursive: true, force: true });
    await rename(staging, options.dest);
    return 'fetched';
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
