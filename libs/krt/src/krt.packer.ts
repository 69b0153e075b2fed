import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { create } from 'tar';
import type { KrtOptions } from './krt.limits.js';
import type { KrtArchive } from './krt.model.js';
import { openKrt, validateKrtDirectory } from './krt.reader.js';

/**
 * Packs a project folder into a KRT at `out`: validates the folder first (refusing an invalid
 * project), archives exactly the files validation saw (`.krtignore` applied; no links), then
 * reads the result back through the hardened reader before it replaces `out`.
 * @throws KrtInvalidError when the project is not a valid KRT.
 */
export async function packKrt(dir: string, out: string, options?: KrtOptions): Promise<KrtArchive> {
  const project = await validateKrtDirectory(dir, options);
  const root = project.topFolder ? join(dir, project.topFolder) : dir;
  const target = resolve(out);
  await mkdir(dirname(target), { recursive: true });
  const partial = `${target}.${randomBytes(6).toString('hex')}.partial`;
  try {
    await create(
      {
        gzip: true,
        file: partial,
        cwd: root,
        portable: true,
        noDirRecurse: true,
        follow: false,
        strict: true,
      },
      project.files,
    );
    const packed = await openKrt(partial, options);
    await rename(partial, target);
    return packed;
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}
