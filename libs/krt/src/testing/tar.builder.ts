import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';

/**
 * Test-only: writes tar archives byte by byte, so the tests can build what `tar` refuses to
 * create (`..` paths, links, devices, duplicates, non-UTF-8 names, bad checksums, ...).
 */
export interface RawEntry {
  /** Raw bytes are kept as they are (for non-UTF-8 names). */
  name: string | Buffer;
  /** Typeflag: '0' file, '5' folder, '1' hard link, '2' symlink, '3'/'4' devices, '6' FIFO, ... */
  type?: string;
  data?: Buffer | string;
  /** Declared size, when it must differ from the data's. */
  size?: number;
  mode?: number;
  linkname?: string;
  prefix?: string;
  corruptChecksum?: boolean;
}

const BLOCK = 512;

/** One 512-byte ustar header. */
export function tarHeader(entry: RawEntry): Buffer {
  const block = Buffer.alloc(BLOCK);
  const data = toBuffer(entry.data ?? '');
  const name = toBuffer(entry.name);
  name.copy(block, 0, 0, Math.min(name.length, 100));
  octal(block, 100, 8, entry.mode ?? (entry.type === '5' ? 0o755 : 0o644));
  octal(block, 108, 8, 0);
  octal(block, 116, 8, 0);
  octal(block, 124, 12, entry.size ?? data.length);
  octal(block, 136, 12, 1_700_000_000);
  block.write(entry.type ?? '0', 156, 1, 'latin1');
  if (entry.linkname) block.write(entry.linkname, 157, 100, 'utf8');
  block.write('ustar\u0000', 257, 6, 'latin1');
  block.write('00', 263, 2, 'latin1');
  if (entry.prefix) block.write(entry.prefix, 345, 155, 'utf8');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  if (entry.corruptChecksum) sum += 1;
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'latin1');
  return block;
}

/** A whole tar: each header, its data padded to 512 bytes, then two zero blocks (unless `end: false`). */
export function tarBytes(entries: readonly RawEntry[], options: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = toBuffer(entry.data ?? '');
    parts.push(tarHeader(entry), data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    parts.push(Buffer.alloc(pad));
  }
  if (options.end !== false) parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

/** A pax extended header entry (type `x`) applying `records` to the next entry. */
export function paxEntry(records: Record<string, string>): RawEntry {
  const lines = Object.entries(records).map(([key, value]) => {
    const body = ` ${key}=${value}\n`;
    let length = Buffer.byteLength(body) + 1;
    while (`${length}${body}`.length !== length) length = `${length}${body}`.length;
    return `${length}${body}`;
  });
  return { name: 'PaxHeader', type: 'x', data: lines.join('') };
}

/** Regular files (folders implied), as a tar. */
export function filesTar(files: Record<string, string | Buffer>): Buffer {
  return tarBytes(Object.entries(files).map(([name, data]) => ({ name, data })));
}

/** gzip of `data`. */
export function gzip(data: Buffer): Buffer {
  return gzipSync(data);
}

/** A gzip-compressed tar of `files`: the usual shape of a KRT. */
export function krtBytes(files: Record<string, string | Buffer>): Buffer {
  return gzip(filesTar(files));
}

/** A stream of `data` in chunks of `chunk` bytes (default 16 KiB). */
export function streamOf(data: Buffer, chunk = 16 * 1024): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) chunks.push(data.subarray(i, i + chunk));
  return Readable.from(chunks);
}

function octal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\u0000`, offset, length, 'latin1');
}

function toBuffer(value: string | Buffer): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}
