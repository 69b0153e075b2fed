import { createReadStream, createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip, type Gunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { checkRelativePath, entryIssuePath } from './entry-path.rules.js';
import {
  emptyContents,
  keepKind,
  keptLimit,
  type KeptKind,
  type KrtContents,
} from './krt.contents.js';
import { IssueCollector, KrtInvalidError } from './krt.errors.js';
import { RATIO_GRACE_BYTES, type KrtLimits, type KrtReadStats } from './krt.limits.js';

/** Where the archive comes from: a file path or a byte stream (an upload). */
export type KrtSource = string | Readable;

/** What one pass over an archive found, plus the per-entry problems (bad names, links, ...). */
export interface ArchiveScan {
  contents: KrtContents;
  issues: IssueCollector;
}

interface ScanOptions {
  limits: KrtLimits;
  stats: KrtReadStats;
  /** Write accepted regular files under this (fresh, private) folder while reading. */
  extractTo?: string;
  /** Also keep in memory the files this accepts (entry paths, before the root is known). */
  keepAlso?: (path: string) => boolean;
}

// `OldFile` (type \0) and `ContiguousFile` (type 7) are regular files to every tar reader.
const REGULAR_FILE_TYPES = new Set<string>(['File', 'OldFile', 'ContiguousFile']);
const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const META_ENTRY_MAX = 64 * 1024;
const READ_CHUNK = 64 * 1024;

/**
 * Reads a gzip-compressed tar in one streaming pass, holding only the manifest candidates and
 * `.proto` files in memory, and stops at the first limit exceeded.
 * @throws KrtInvalidError when the data is not a readable KRT archive or exceeds a limit.
 */
export async function scanArchive(source: KrtSource, options: ScanOptions): Promise<ArchiveScan> {
  let input: Readable;
  if (typeof source === 'string') {
    const info = await stat(source);
    if (!info.isFile()) throw new KrtInvalidError([archiveIssue(`${source} is not a file`)]);
    if (info.size > options.limits.maxCompressedBytes) {
      options.stats.compressedBytes = 0;
      throw new KrtInvalidError([compressedTooBig(options.limits.maxCompressedBytes)]);
    }
    input = createReadStream(source, { highWaterMark: READ_CHUNK });
  } else {
    input = source;
  }
  return new ArchiveScanner(options).run(input);
}

function archiveIssue(message: string): { path: string; message: string; severity: 'error' } {
  return { path: 'archive', message, severity: 'error' };
}

function compressedTooBig(limit: number): ReturnType<typeof archiveIssue> {
  return archiveIssue(
    `the archive is larger than ${formatBytes(limit)}: remove what the KRT does not need`,
  );
}

/** `1.5 MiB`, for messages. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}

class ArchiveScanner {
  private readonly contents = emptyContents();
  private readonly issues = new IssueCollector();
  private readonly limits: KrtLimits;
  private readonly stats: KrtReadStats;
  private readonly gunzip: Gunzip;
  private readonly parser: Parser;
  /** Folders that hold a file, to refuse a file of the same name (`a` and `a/b`). */
  private readonly parents = new Set<string>();
  private readonly streams = new Set<WriteStream>();
  private readonly pending = new Set<Promise<void>>();
  private readonly madeDirs = new Set<string>();
  private failure?: KrtInvalidError | Error;
  private onFailure: () => void = () => undefined;
  private declaredBytes = 0;
  private keptProtoBytes = 0;
  private head = Buffer.alloc(0);
  private sniffed = false;
  private parserEnded = false;
  private onSettled: () => void = () => undefined;

  constructor(private readonly options: ScanOptions) {
    this.limits = options.limits;
    this.stats = options.stats;
    this.gunzip = createGunzip({ chunkSize: READ_CHUNK });
    this.parser = new Parser({
      strict: false,
      maxMetaEntrySize: META_ENTRY_MAX,
      // Decompression is ours (to count bytes); the parser must not unpack anything itself.
      brotli: false,
      zstd: false,
      onwarn: (code, message) => this.onTarWarning(code, String(message)),
    });
  }

  async run(input: Readable): Promise<ArchiveScan> {
    const failed = new Promise<void>((resolve) => (this.onFailure = resolve));
    const settled = new Promise<void>((resolve) => (this.onSettled = resolve));
    this.wire();
    try {
      await this.pump(input, failed);
      if (!this.failure) await Promise.race([settled, failed]);
    } catch (error) {
      // The source stream itself failed (disk, network): not a property of the KRT.
      this.failure ??= error instanceof Error ? error : new Error(String(error));
    }
    if (this.failure) {
      await this.closeWriters();
      this.gunzip.destroy();
      throw this.failure;
    }
    return { contents: this.contents, issues: this.issues };
  }

  private wire(): void {
    this.gunzip.on('data', (chunk: Buffer) => this.guard(() => this.onInflated(chunk)));
    this.gunzip.on('end', () => this.guard(() => this.endParser()));
    this.gunzip.on('error', (error: Error & { code?: string }) => this.onGzipError(error));
    this.parser.on('entry', (entry: ReadEntry) => this.onEntry(entry));
    this.parser.on('ignoredEntry', (entry: ReadEntry) => this.onIgnored(entry));
    this.parser.on('meta', () => this.countEntry());
    this.parser.on('error', (error: Error) =>
      this.fail(`the tar data is corrupt (${error.message}): pack the KRT again`),
    );
    this.parser.on('end', () => {
      this.parserEnded = true;
      this.maybeSettled();
    });
  }

  private async pump(input: Readable, failed: Promise<void>): Promise<void> {
    for await (const chunk of input as AsyncIterable<Uint8Array | string>) {
      if (this.failure) break;
      const bytes = toBuffer(chunk);
      this.stats.compressedBytes += bytes.length;
      if (this.stats.compressedBytes > this.limits.maxCompressedBytes) {
        this.fail(compressedTooBig(this.limits.maxCompressedBytes).message);
        break;
      }
      if (!this.sniffed && !this.sniffGzip(bytes)) continue;
      if (this.failure) break;
      if (!this.gunzip.write(bytes)) {
        await Promise.race([new Promise((r) => this.gunzip.once('drain', r)), failed]);
      }
    }
    if (this.failure) return;
    if (!this.sniffed) {
      this.fail(
        this.stats.compressedBytes === 0
          ? 'the archive is empty: pack the project with `kre krt pack`'
          : notGzipMessage,
      );
      return;
    }
    this.gunzip.end();
  }

  /** Checks the gzip magic number of the first bytes; buffers until two bytes have arrived. */
  private sniffGzip(bytes: Buffer): boolean {
    this.head = Buffer.concat([this.head, bytes]);
    if (this.head.length < GZIP_MAGIC.length) return false;
    this.sniffed = true;
    if (this.head[0] !== GZIP_MAGIC[0] || this.head[1] !== GZIP_MAGIC[1]) {
      this.fail(notGzipMessage);
      return false;
    }
    const head = this.head;
    this.head = Buffer.alloc(0);
    if (head.length > bytes.length) this.gunzip.write(head.subarray(0, head.length - bytes.length));
    return true;
  }

  private inflatedHead = Buffer.alloc(0);
  private inflatedChecked = false;

  private onInflated(chunk: Buffer): void {
    if (this.failure) return;
    this.stats.uncompressedBytes += chunk.length;
    if (this.stats.uncompressedBytes > this.limits.maxUncompressedBytes) {
      this.fail(
        `the archive unpacks to more than ${formatBytes(this.limits.maxUncompressedBytes)}: remove what the KRT does not need`,
      );
      return;
    }
    const ratio = this.stats.uncompressedBytes / Math.max(1, this.stats.compressedBytes);
    if (
      this.stats.uncompressedBytes > RATIO_GRACE_BYTES &&
      ratio > this.limits.maxCompressionRatio
    ) {
      this.fail(
        `the archive expands more than ${this.limits.maxCompressionRatio} times (a decompression bomb?): it is refused`,
      );
      return;
    }
    if (!this.inflatedChecked) {
      // tar's parser would silently unpack a second layer of compression, hiding it from the
      // limits above: refuse it here.
      this.inflatedHead = Buffer.concat([this.inflatedHead, chunk]);
      if (this.inflatedHead.length < ZSTD_MAGIC.length) return;
      this.inflatedChecked = true;
      chunk = this.inflatedHead;
      this.inflatedHead = Buffer.alloc(0);
      if (startsWith(chunk, GZIP_MAGIC) || startsWith(chunk, ZSTD_MAGIC)) {
        this.fail('the archive is compressed twice: pack the project once with `kre krt pack`');
        return;
      }
    }
    this.writeParser(chunk);
  }

  private writeParser(chunk: Buffer): void {
    if (!this.parser.write(chunk)) {
      this.gunzip.pause();
      this.parser.once('drain', () => this.gunzip.resume());
    }
  }

  private endParser(): void {
    if (this.failure) return;
    if (!this.inflatedChecked && this.inflatedHead.length) {
      this.inflatedChecked = true;
      this.writeParser(this.inflatedHead);
    }
    this.parser.end();
  }

  private onGzipError(error: Error & { code?: string }): void {
    if (error.code === 'Z_BUF_ERROR') {
      this.fail('the archive is truncated (the gzip stream ends early): send the whole file again');
    } else {
      this.fail(`the archive is corrupt (gzip: ${error.message}): pack the KRT again`);
    }
  }

  private onTarWarning(code: string, message: string): void {
    if (message === 'Unrecognized archive format') {
      this.fail(
        'the gzip data is not a tar archive (or holds no entry): pack the project with `kre krt pack`',
      );
    } else if (message.startsWith('Truncated input')) {
      this.fail(
        'the archive is truncated (the tar data ends inside a file): send the whole file again',
      );
    } else if (message === 'checksum failure') {
      this.fail('the archive is corrupt (a tar header fails its checksum): pack the KRT again');
    } else {
      this.fail(`the archive is corrupt (${code}: ${message}): pack the KRT again`);
    }
  }

  private countEntry(): boolean {
    this.stats.entries += 1;
    if (this.stats.entries > this.limits.maxEntries) {
      this.fail(
        `the archive has more than ${this.limits.maxEntries} entries: remove what the KRT does not need`,
      );
      return false;
    }
    return true;
  }

  private onIgnored(entry: ReadEntry): void {
    entry.resume();
    if (this.failure || !this.countEntry()) return;
    if (entry.meta) {
      this.fail(
        `the archive has an extended tar header larger than ${formatBytes(META_ENTRY_MAX)}: pack the KRT again`,
      );
    } else {
      this.issues.error(entryIssuePath(entry.path), unsupportedType(entry.type));
    }
  }

  private onEntry(entry: ReadEntry): void {
    if (this.failure || !this.countEntry()) {
      entry.resume();
      return;
    }
    const where = entryIssuePath(entry.path);
    const checked = checkRelativePath(entry.path, this.limits);
    if (!checked.ok) {
      entry.resume();
      this.issues.error(where, checked.reason);
      return;
    }
    const path = checked.path;
    if (entry.type === 'Directory') {
      entry.resume();
      if (path && this.contents.files.has(path)) {
        this.issues.error(where, 'a folder and a file have the same name: rename one');
      } else if (path) {
        this.addDir(path);
      }
    } else if (REGULAR_FILE_TYPES.has(entry.type)) {
      this.onFile(entry, path, where, checked.trailingSlash);
    } else {
      entry.resume();
      this.issues.error(where, unsupportedType(entry.type, entry.linkpath));
    }
  }

  private onFile(entry: ReadEntry, path: string, where: string, trailingSlash: boolean): void {
    const size = entry.size;
    if (!path || trailingSlash) {
      entry.resume();
      this.issues.error(where, 'a file entry has a folder name: pack the KRT again');
      return;
    }
    if (size > this.limits.maxFileBytes) {
      entry.resume();
      this.fail(
        `${path} is ${formatBytes(size)}; a file may be at most ${formatBytes(this.limits.maxFileBytes)}`,
        where,
      );
      return;
    }
    this.declaredBytes += size;
    if (this.declaredBytes > this.limits.maxUncompressedBytes) {
      entry.resume();
      this.fail(
        `the archive unpacks to more than ${formatBytes(this.limits.maxUncompressedBytes)}: remove what the KRT does not need`,
      );
      return;
    }
    if (this.contents.files.has(path)) {
      entry.resume();
      this.issues.error(where, 'the archive holds this file twice: keep one copy');
      return;
    }
    if (this.contents.dirs.has(path) || this.parents.has(path)) {
      entry.resume();
      this.issues.error(where, 'a folder and a file have the same name: rename one');
      return;
    }
    const clash = ancestors(path).find((dir) => this.contents.files.has(dir));
    if (clash !== undefined) {
      entry.resume();
      this.issues.error(where, `"${clash}" is a file, so nothing can be inside it: rename one`);
      return;
    }
    this.contents.files.set(path, size);
    for (const dir of ancestors(path)) this.addDir(dir);
    const extract = this.options.extractTo !== undefined && !this.issues.hasErrors;
    const kind = keepKind(path) ?? (this.options.keepAlso?.(path) ? 'document' : undefined);
    if (kind && this.mayKeep(kind, path, size)) {
      // One consumer per entry: a kept file is written out from memory once complete.
      const chunks: Buffer[] = [];
      entry.on('end', () => {
        const data = Buffer.concat(chunks);
        this.contents.kept.set(path, data);
        if (extract) this.track(this.writeKept(path, data, entry.mode));
      });
      entry.on('data', (chunk: Buffer) => chunks.push(chunk));
    } else if (extract) {
      this.extract(entry, path);
    } else {
      entry.resume();
    }
  }

  private addDir(path: string): void {
    this.contents.dirs.add(path);
    this.parents.add(path);
  }

  /** Whether a file to keep fits the in-memory budget (else noted as too big). */
  private mayKeep(kind: KeptKind, path: string, size: number): boolean {
    const max = keptLimit(kind, this.limits);
    if (size > max) {
      this.contents.tooBig.set(
        path,
        `${path} is ${formatBytes(size)}; the limit is ${formatBytes(max)}`,
      );
      return false;
    }
    if (kind === 'proto') {
      if (this.keptProtoBytes + size > this.limits.maxProtoTotalBytes) {
        this.contents.tooBig.set(
          path,
          `the KRT's .proto files add up to more than ${formatBytes(this.limits.maxProtoTotalBytes)}`,
        );
        return false;
      }
      this.keptProtoBytes += size;
    }
    return true;
  }

  private targetFor(path: string): string {
    const target = join(this.options.extractTo as string, path);
    const parent = dirname(target);
    if (!this.madeDirs.has(parent)) {
      // The root is a fresh private folder and every name was checked: no link can redirect this.
      mkdirSync(parent, { recursive: true, mode: 0o755 });
      this.madeDirs.add(parent);
    }
    return target;
  }

  private async writeKept(path: string, data: Buffer, mode: number | undefined): Promise<void> {
    if (this.failure) return;
    await writeFile(this.targetFor(path), data, { flag: 'wx', mode: fileMode(mode) });
  }

  private extract(entry: ReadEntry, path: string): void {
    const out = createWriteStream(this.targetFor(path), {
      flags: 'wx',
      mode: fileMode(entry.mode),
    });
    this.streams.add(out);
    this.track(
      new Promise<void>((resolve, reject) => {
        out.on('error', reject);
        out.on('close', () => {
          this.streams.delete(out);
          resolve();
        });
      }),
    );
    entry.pipe(out);
  }

  private track(write: Promise<void>): void {
    this.pending.add(write);
    write
      .catch((error: unknown) => {
        this.failure ??= error instanceof Error ? error : new Error(String(error));
        this.onFailure();
      })
      .finally(() => {
        this.pending.delete(write);
        this.maybeSettled();
      });
  }

  private maybeSettled(): void {
    if (this.parserEnded && this.pending.size === 0) this.onSettled();
  }

  private async closeWriters(): Promise<void> {
    await Promise.all(
      [...this.streams].map(
        (out) =>
          new Promise<void>((resolve) => {
            if (out.closed) return resolve();
            out.once('close', () => resolve());
            out.destroy();
          }),
      ),
    );
    await Promise.allSettled([...this.pending]);
  }

  /**
   * Runs parser work: a system error (disk full, permissions) stays what it is; anything else
   * thrown from inside tar means data it could not make sense of.
   */
  private guard(work: () => void): void {
    try {
      work();
    } catch (error) {
      if (isSystemError(error)) {
        this.failure ??= error;
        this.onFailure();
      } else {
        const detail = error instanceof Error ? error.message : String(error);
        this.fail(`the tar data is corrupt (${detail}): pack the KRT again`);
      }
    }
  }

  private fail(message: string, path = 'archive'): void {
    if (this.failure) return;
    this.issues.error(path, message);
    this.failure = new KrtInvalidError(this.issues.issues);
    this.onFailure();
  }
}

const notGzipMessage =
  'the file is not a gzip-compressed tar (.krt): pack the project with `kre krt pack` or `tar -czf`';

/** Streams may yield Buffers, plain Uint8Arrays (`Readable.fromWeb`) or strings. */
function toBuffer(chunk: Uint8Array | string): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'latin1');
  return Buffer.isBuffer(chunk)
    ? chunk
    : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

function startsWith(buffer: Buffer, magic: readonly number[]): boolean {
  return magic.every((byte, i) => buffer[i] === byte);
}

function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

function fileMode(mode: number | undefined): number {
  return ((mode ?? 0) & 0o111) !== 0 ? 0o755 : 0o644;
}

function ancestors(path: string): string[] {
  const parts = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}

function unsupportedType(type: string, linkpath?: string): string {
  switch (type) {
    case 'SymbolicLink':
      return `symbolic links are not allowed (this one points to ${JSON.stringify(linkpath ?? '')}): put the file itself in the KRT`;
    case 'Link':
      return `hard links are not allowed (this one points to ${JSON.stringify(linkpath ?? '')}): put the file itself in the KRT`;
    case 'CharacterDevice':
    case 'BlockDevice':
      return 'device files are not allowed: a KRT holds only regular files and folders';
    case 'FIFO':
      return 'FIFOs (named pipes) are not allowed: a KRT holds only regular files and folders';
    default:
      return `tar entries of type ${type} are not allowed: a KRT holds only regular files and folders`;
  }
}
