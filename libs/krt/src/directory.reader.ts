import type { Dirent } from 'node:fs';
import { lstat, opendir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatBytes } from './archive.reader.js';
import { checkRelativePath, entryIssuePath } from './entry-path.rules.js';
import { emptyContents, keepKind, keptLimit, type KrtContents } from './krt.contents.js';
import { IssueCollector } from './krt.errors.js';
import type { KrtLimits, KrtReadStats } from './krt.limits.js';
import { KrtIgnore } from './krtignore.matcher.js';

/** What a project folder holds, as `kre krt pack` would archive it. */
export interface DirectoryScan {
  contents: KrtContents;
  issues: IssueCollector;
}

/**
 * Lists a project folder the way `pack` archives it (`.krtignore` and the default ignores
 * applied), with the same limits as an archive; keeps only the manifest and `.proto` files in
 * memory. Links and special files are reported, never followed.
 * @throws KrtInvalidError when a limit (entries, total size) is exceeded.
 */
export async function scanDirectory(
  dir: string,
  limits: KrtLimits,
  stats: KrtReadStats,
): Promise<DirectoryScan> {
  const contents = emptyContents();
  const issues = new IssueCollector();
  const ignore = KrtIgnore.parse(await readIgnoreFile(dir));
  const pending: string[] = [''];
  let total = 0;
  let keptProto = 0;
  while (pending.length) {
    const rel = pending.shift() as string;
    const listed: Dirent[] = [];
    for await (const entry of await opendir(join(dir, rel))) {
      if (ignore.ignores(rel ? `${rel}/${entry.name}` : entry.name, entry.isDirectory())) continue;
      stats.entries += 1;
      if (stats.entries > limits.maxEntries) {
        issues.error(
          'archive',
          `the folder has more than ${limits.maxEntries} entries: list what the KRT does not need in .krtignore`,
        );
        return issues.fail();
      }
      listed.push(entry);
    }
    // Sorted, so findings (and the packed archive) do not depend on the filesystem's order.
    listed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of listed) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      const isDir = entry.isDirectory();
      const where = entryIssuePath(path);
      const checked = checkRelativePath(path, limits);
      if (!checked.ok) {
        issues.error(where, checked.reason);
        continue;
      }
      if (isDir) {
        contents.dirs.add(path);
        pending.push(path);
        continue;
      }
      if (entry.isSymbolicLink()) {
        issues.error(
          where,
          'symbolic links cannot be packed: replace it with the file itself, or list it in .krtignore',
        );
        continue;
      }
      if (!entry.isFile()) {
        issues.error(
          where,
          'only regular files and folders can be packed: remove it, or list it in .krtignore',
        );
        continue;
      }
      const size = (await lstat(join(dir, path))).size;
      if (size > limits.maxFileBytes) {
        issues.error(
          where,
          `${path} is ${formatBytes(size)}; a file may be at most ${formatBytes(limits.maxFileBytes)}`,
        );
        continue;
      }
      total += size;
      stats.uncompressedBytes = total;
      if (total > limits.maxUncompressedBytes) {
        issues.error(
          'archive',
          `the folder holds more than ${formatBytes(limits.maxUncompressedBytes)}: list what the KRT does not need in .krtignore`,
        );
        return issues.fail();
      }
      contents.files.set(path, size);
      const kind = keepKind(path);
      if (!kind) continue;
      const max = keptLimit(kind, limits);
      if (size > max || (kind === 'proto' && keptProto + size > limits.maxProtoTotalBytes)) {
        contents.tooBig.set(path, `${path} is ${formatBytes(size)}, over the limit`);
        continue;
      }
      if (kind === 'proto') keptProto += size;
      contents.kept.set(path, await readFile(join(dir, path)));
    }
  }
  return { contents, issues };
}

async function readIgnoreFile(dir: string): Promise<string> {
  try {
    return await readFile(join(dir, '.krtignore'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}
