import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { extractKrt, KrtInvalidError, openKrt, readKrtDocument } from './index.js';
import { krtFailure } from './testing/krt.expect.js';
import { v2Files } from './testing/krt.fixtures.js';
import { gzip, krtBytes, streamOf, tarBytes, type RawEntry } from './testing/tar.builder.js';

const files = v2Files();
const entries: RawEntry[] = Object.entries(files).map(([name, data]) => ({ name, data }));

/** Every path under `dir`, relative, sorted (folders end with `/`). */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const rel = join(entry.parentPath, entry.name).slice(dir.length + 1);
    out.push(entry.isDirectory() ? `${rel}/` : rel);
  }
  return out.sort();
}

describe(extractKrt.name, () => {
  let work: string;

  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'krt-extract-'));
  });
  afterEach(() => rm(work, { recursive: true, force: true }));

  it('extracts a valid KRT into a fresh private folder', async () => {
    const sut = await extractKrt(streamOf(krtBytes(files)));
    try {
      expect((await stat(sut.dir)).mode & 0o777).toBe(0o700);
      expect(await readFile(join(sut.dir, 'kre.yaml'), 'utf8')).toBe(files['kre.yaml']);
      expect(await readFile(join(sut.dir, 'src/etl.js'), 'utf8')).toBe(files['src/etl.js']);
      expect(sut.files).toEqual(Object.keys(files).sort());
      expect(sut.krt.version).toBe('demo-v1');
    } finally {
      await rm(sut.dir, { recursive: true, force: true });
    }
  });

  it('moves the KRT to dest, which must not exist', async () => {
    const dest = join(work, 'krt');
    const sut = await extractKrt(streamOf(krtBytes(files)), { dest });
    expect(sut.dir).toBe(dest);
    expect(await tree(work)).toEqual(
      ['krt/', ...Object.keys(files).map((f) => `krt/${f}`), 'krt/src/'].sort(),
    );
    await expect(extractKrt(streamOf(krtBytes(files)), { dest })).rejects.toThrow(
      `cannot extract the KRT to ${dest}: it already exists`,
    );
    expect(await readdir(work)).toEqual(['krt']);
  });

  it('strips a single top folder wrapping everything, even one holding its own name', async () => {
    const wrapped: Record<string, string> = { 'project/project/notes.txt': 'same name inside' };
    for (const [name, data] of Object.entries(files)) wrapped[`project/${name}`] = data;
    const sut = await extractKrt(streamOf(krtBytes(wrapped)));
    try {
      expect(sut.topFolder).toBe('project');
      expect(await readFile(join(sut.dir, 'kre.yaml'), 'utf8')).toBe(files['kre.yaml']);
      expect(await readFile(join(sut.dir, 'project/notes.txt'), 'utf8')).toBe('same name inside');
      expect(sut.files).toContain('project/notes.txt');
    } finally {
      await rm(sut.dir, { recursive: true, force: true });
    }
    const dest = join(work, 'out');
    await extractKrt(streamOf(krtBytes(wrapped)), { dest });
    expect(await readdir(work)).toEqual(['out']);
    expect(await readFile(join(dest, 'kre.yaml'), 'utf8')).toBe(files['kre.yaml']);
  });

  it('keeps the executable bit and nothing else of the archived mode', async () => {
    const bytes = gzip(
      tarBytes([
        ...entries,
        { name: 'bin/tool', data: '#!/bin/sh\n', mode: 0o4777 },
        { name: 'data.txt', data: 'x', mode: 0o666 },
      ]),
    );
    const dest = join(work, 'krt');
    await extractKrt(streamOf(bytes), { dest });
    expect((await stat(join(dest, 'bin/tool'))).mode & 0o7777).toBe(0o755);
    expect((await stat(join(dest, 'data.txt'))).mode & 0o7777).toBe(0o644);
  });

  const hostile: [string, RawEntry[]][] = [
    ['a path going up', [{ name: '../escaped.txt', data: 'x' }]],
    ['an absolute path', [{ name: `${'/tmp'}/krt-absolute-${process.pid}.txt`, data: 'x' }]],
    [
      'a symlink, then a file written through it',
      [
        { name: 'lib', type: '2', linkname: '..' },
        { name: 'lib/escaped.txt', data: 'x' },
      ],
    ],
    ['a hard link to a file outside', [{ name: 'passwd', type: '1', linkname: '/etc/passwd' }]],
  ];

  it.each(hostile)('writes nothing outside, and leaves nothing behind, for %s', async (_, bad) => {
    const dest = join(work, 'inside', 'krt');
    await mkdir(join(work, 'inside'));
    for (const order of ['first', 'last']) {
      const all = order === 'first' ? [...bad, ...entries] : [...entries, ...bad];
      const error = await extractKrt(streamOf(gzip(tarBytes(all))), { dest }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(KrtInvalidError);
      expect(await tree(work)).toEqual(['inside/']);
    }
    await expect(stat(`/tmp/krt-absolute-${process.pid}.txt`)).rejects.toThrow();
  });

  it('removes a partial extraction when the manifest is invalid', async () => {
    const dest = join(work, 'krt');
    const failure = await krtFailure(
      extractKrt(streamOf(krtBytes({ ...files, 'kre.yaml': 'version: X\n' })), { dest }),
    );
    expect(failure.errors.length).toBeGreaterThan(0);
    expect(await readdir(work)).toEqual([]);
  });

  it('removes a partial extraction when the stream fails half-way, and rethrows that error', async () => {
    const bytes = krtBytes({ ...files, 'big.bin': Buffer.alloc(512 * 1024, 3) });
    async function* broken(): AsyncGenerator<Buffer> {
      yield bytes.subarray(0, 1024);
      await new Promise((r) => setTimeout(r, 5));
      throw new Error('connection reset');
    }
    const dest = join(work, 'krt');
    const { Readable } = await import('node:stream');
    await expect(extractKrt(Readable.from(broken()), { dest })).rejects.toThrow('connection reset');
    expect(await readdir(work)).toEqual([]);
  });
});

describe(openKrt.name, () => {
  it('reports bytes and entries it read', async () => {
    const stats = { compressedBytes: 0, uncompressedBytes: 0, entries: 0 };
    const bytes = krtBytes(files);
    const archive = await openKrt(streamOf(bytes, 100), { stats });
    expect(archive.stats).toBe(stats);
    expect(stats).toEqual({
      compressedBytes: bytes.length,
      uncompressedBytes: tarBytes(entries).length,
      entries: entries.length,
    });
  });

  it('reads web streams (Uint8Array chunks), as an object store hands them out', async () => {
    const bytes = new Uint8Array(krtBytes(files));
    const web = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 100) controller.enqueue(bytes.slice(i, i + 100));
        controller.close();
      },
    });
    const { Readable } = await import('node:stream');
    const archive = await openKrt(
      Readable.fromWeb(web as import('node:stream/web').ReadableStream),
    );
    expect(archive.files).toEqual(Object.keys(files).sort());
  });

  it('tolerates ./ prefixes and explicit folder entries, as tar -C dir . writes them', async () => {
    const bytes = gzip(
      tarBytes([
        { name: './', type: '5' },
        { name: './src/', type: '5' },
        ...entries.map((e) => ({ ...e, name: `./${String(e.name)}` })),
      ]),
    );
    const archive = await openKrt(streamOf(bytes));
    expect(archive.files).toEqual(Object.keys(files).sort());
    expect(archive.topFolder).toBeUndefined();
  });

  it('reads a KRT written to disk by another tool', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'krt-open-'));
    try {
      await writeFile(join(dir, 'x.krt'), krtBytes(files));
      expect((await openKrt(join(dir, 'x.krt'))).krt.rpcs).toEqual(['Classify', 'Train']);
      await expect(openKrt(join(dir, 'missing.krt'))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe(readKrtDocument.name, () => {
  const withDocs = { ...files, 'docs/README.md': '# Hello\n', 'docs/deep/x.md': 'x' };

  it('reads one file with the validating reader, at the root or under one top folder', async () => {
    expect(await readKrtDocument(streamOf(krtBytes(withDocs)), 'docs/README.md')).toEqual({
      found: true,
      content: '# Hello\n',
    });
    const wrapped = Object.fromEntries(Object.entries(withDocs).map(([k, v]) => [`p/${k}`, v]));
    expect(await readKrtDocument(streamOf(krtBytes(wrapped)), 'docs/deep/x.md')).toEqual({
      found: true,
      content: 'x',
    });
  });

  it('says what is missing or too big, and refuses an archive that is not a valid KRT', async () => {
    expect(await readKrtDocument(streamOf(krtBytes(withDocs)), 'docs/none.md')).toMatchObject({
      found: false,
      reason: 'missing',
    });
    expect(
      await readKrtDocument(streamOf(krtBytes(withDocs)), 'docs/README.md', {
        limits: { maxDocumentBytes: 4 },
      }),
    ).toMatchObject({ found: false, reason: 'too-big' });
    await expect(
      readKrtDocument(streamOf(krtBytes({ ...withDocs, '.npmrc': 'x' })), 'docs/README.md'),
    ).rejects.toThrow(KrtInvalidError);
  });
});
