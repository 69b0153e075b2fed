import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKrt, type KrtIssue, type KrtOptions } from './index.js';
import { krtFailure } from './testing/krt.expect.js';
import { v2Files } from './testing/krt.fixtures.js';
import {
  filesTar,
  gzip,
  krtBytes,
  paxEntry,
  streamOf,
  tarBytes,
  type RawEntry,
} from './testing/tar.builder.js';

/**
 * The corpus: malformed and malicious archives, each built here from bytes, each refused with
 * exactly the error listed. Entry-level cases add one bad entry to an otherwise valid KRT, so
 * the only finding is that entry.
 */

const MiB = 1024 * 1024;
const valid = v2Files();
const validEntries: RawEntry[] = Object.entries(valid).map(([name, data]) => ({ name, data }));

/** A valid KRT plus `extra` tar entries (after the valid ones, or before with `first`). */
function withEntries(extra: RawEntry[], first = false): Buffer {
  return gzip(tarBytes(first ? [...extra, ...validEntries] : [...validEntries, ...extra]));
}

const archive = (message: string): KrtIssue => ({ path: 'archive', message, severity: 'error' });
const entry = (name: string, message: string): KrtIssue => ({
  path: `archive[${JSON.stringify(name)}]`,
  message,
  severity: 'error',
});
const manifestAt = (message: string, line?: number, column?: number): KrtIssue =>
  line === undefined
    ? { path: 'kre.yaml', message, severity: 'error' }
    : { path: 'kre.yaml', message, severity: 'error', line, column };

const at = (path: string, message: string, line: number, column: number): KrtIssue => ({
  path,
  message,
  severity: 'error',
  line,
  column,
});
const ANCHOR = 'YAML anchors (&name) are not allowed: write every value out in full';
const ALIAS = 'YAML aliases (*name) are not allowed: write the value out in full';

const NOT_GZIP =
  'the file is not a gzip-compressed tar (.krt): pack the project with `kre krt pack` or `tar -czf`';
const NOT_TAR =
  'the gzip data is not a tar archive (or holds no entry): pack the project with `kre krt pack`';
const TRUNCATED_GZIP =
  'the archive is truncated (the gzip stream ends early): send the whole file again';
const LINK_FIX = 'put the file itself in the KRT';
const ONLY_FILES = 'a KRT holds only regular files and folders';

interface Case {
  name: string;
  input: () => Buffer;
  options?: KrtOptions;
  errors: KrtIssue[];
}

const tarOfValid = filesTar(valid);
const validKrt = gzip(tarOfValid);

const cases: Case[] = [
  // --- not a KRT at all -------------------------------------------------------------------
  {
    name: 'an empty file',
    input: () => Buffer.alloc(0),
    errors: [archive('the archive is empty: pack the project with `kre krt pack`')],
  },
  { name: 'a single byte', input: () => Buffer.from([0x1f]), errors: [archive(NOT_GZIP)] },
  { name: 'an uncompressed tar', input: () => tarOfValid, errors: [archive(NOT_GZIP)] },
  {
    name: 'a zip file',
    input: () => Buffer.concat([Buffer.from('PK\u0003\u0004'), Buffer.alloc(100)]),
    errors: [archive(NOT_GZIP)],
  },
  {
    name: 'a YAML file uploaded as the KRT',
    input: () => Buffer.from(valid['kre.yaml']),
    errors: [archive(NOT_GZIP)],
  },
  {
    name: 'a truncated gzip stream',
    input: () => validKrt.subarray(0, validKrt.length - 12),
    errors: [archive(TRUNCATED_GZIP)],
  },
  {
    name: 'a gzip header only',
    input: () => validKrt.subarray(0, 10),
    errors: [archive(TRUNCATED_GZIP)],
  },
  {
    name: 'a gzip stream with a wrong CRC',
    input: () => {
      const bytes = Buffer.from(validKrt);
      bytes[bytes.length - 6] ^= 0xff;
      return bytes;
    },
    errors: [archive('the archive is corrupt (gzip: incorrect data check): pack the KRT again')],
  },
  {
    name: 'a gzip header with an unknown compression method',
    input: () => {
      const bytes = Buffer.from(validKrt);
      bytes[2] = 7;
      return bytes;
    },
    errors: [
      archive('the archive is corrupt (gzip: unknown compression method): pack the KRT again'),
    ],
  },
  { name: 'gzip of nothing', input: () => gzip(Buffer.alloc(0)), errors: [archive(NOT_TAR)] },
  {
    name: 'gzip of a short text',
    input: () => gzip(Buffer.from('hello, world\n')),
    errors: [archive(NOT_TAR)],
  },
  {
    name: 'gzip of an empty tar (end blocks only)',
    input: () => gzip(Buffer.alloc(1024)),
    errors: [archive(NOT_TAR)],
  },
  {
    name: 'gzip of 4 KiB that is not tar',
    input: () => gzip(Buffer.alloc(4096, 'x')),
    errors: [
      archive('the archive is corrupt (a tar header fails its checksum): pack the KRT again'),
    ],
  },
  {
    name: 'a KRT compressed twice (gzip inside gzip)',
    input: () => gzip(validKrt),
    errors: [archive('the archive is compressed twice: pack the project once with `kre krt pack`')],
  },
  {
    name: 'zstd data inside gzip',
    input: () => gzip(Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(600)])),
    errors: [archive('the archive is compressed twice: pack the project once with `kre krt pack`')],
  },
  {
    name: 'a tar cut inside a file',
    input: () =>
      gzip(
        tarBytes([...validEntries, { name: 'big.bin', data: Buffer.alloc(4000, 1) }]).subarray(
          0,
          9 * 512 + 2048,
        ),
      ),
    errors: [
      archive(
        'the archive is truncated (the tar data ends inside a file): send the whole file again',
      ),
    ],
  },
  {
    name: 'a tar header with a bad checksum',
    input: () => withEntries([{ name: 'docs/README.md', data: 'hi', corruptChecksum: true }]),
    errors: [
      archive('the archive is corrupt (a tar header fails its checksum): pack the KRT again'),
    ],
  },

  // --- limits ------------------------------------------------------------------------------
  {
    name: 'more compressed bytes than allowed',
    input: () => validKrt,
    options: { limits: { maxCompressedBytes: 100 } },
    errors: [archive('the archive is larger than 100 bytes: remove what the KRT does not need')],
  },
  {
    name: 'more uncompressed bytes than allowed',
    input: () => withEntries([{ name: 'data.bin', data: Buffer.alloc(64 * 1024) }]),
    options: { limits: { maxUncompressedBytes: 32 * 1024 } },
    errors: [archive('the archive unpacks to more than 32 KiB: remove what the KRT does not need')],
  },
  {
    name: 'a decompression bomb (9 MiB of zeros)',
    input: () => withEntries([{ name: 'zeros.bin', data: Buffer.alloc(9 * MiB) }]),
    errors: [
      archive('the archive expands more than 100 times (a decompression bomb?): it is refused'),
    ],
  },
  {
    name: 'more entries than allowed',
    input: () => validKrt,
    options: { limits: { maxEntries: 5 } },
    errors: [archive('the archive has more than 5 entries: remove what the KRT does not need')],
  },
  {
    name: 'a file larger than allowed',
    input: () => withEntries([{ name: 'model.bin', data: Buffer.alloc(3000, 7) }]),
    options: { limits: { maxFileBytes: 2048 } },
    errors: [entry('model.bin', 'model.bin is 2.9 KiB; a file may be at most 2 KiB')],
  },
  {
    name: 'declared sizes larger than the uncompressed limit (lying header)',
    input: () =>
      gzip(tarBytes([{ name: 'huge.bin', size: 8 * 1024 * MiB, data: '' }], { end: false })),
    options: { limits: { maxFileBytes: 16 * 1024 * MiB } },
    errors: [archive('the archive unpacks to more than 2 GiB: remove what the KRT does not need')],
  },
  {
    name: 'an extended (pax) header over 64 KiB',
    input: () =>
      withEntries([paxEntry({ comment: 'x'.repeat(70_000) }), { name: 'a.txt', data: 'a' }]),
    errors: [
      archive('the archive has an extended tar header larger than 64 KiB: pack the KRT again'),
    ],
  },

  // --- entries that could escape or be read two ways ---------------------------------------
  {
    name: 'an absolute path',
    input: () => withEntries([{ name: '/etc/passwd', data: 'root' }]),
    errors: [entry('/etc/passwd', 'absolute paths are not allowed: make the path relative')],
  },
  {
    name: 'a path going up with ..',
    input: () => withEntries([{ name: '../evil.js', data: 'x' }]),
    errors: [entry('../evil.js', 'the path goes up with "..": keep every path inside the KRT')],
  },
  {
    name: 'a path going up in the middle',
    input: () => withEntries([{ name: 'src/../../evil.js', data: 'x' }]),
    errors: [
      entry('src/../../evil.js', 'the path goes up with "..": keep every path inside the KRT'),
    ],
  },
  {
    name: 'a "." segment in the middle',
    input: () => withEntries([{ name: 'src/./x.js', data: 'x' }]),
    errors: [entry('src/./x.js', 'the path has empty or "." segments: write it as a/b/c')],
  },
  {
    name: 'an empty segment',
    input: () => withEntries([{ name: 'src//x.js', data: 'x' }]),
    errors: [entry('src//x.js', 'the path has empty or "." segments: write it as a/b/c')],
  },
  {
    name: 'a backslash path',
    input: () => withEntries([{ name: '..\\..\\evil.js', data: 'x' }]),
    errors: [entry('..\\..\\evil.js', 'the name contains a backslash: use "/" between folders')],
  },
  {
    name: 'a Windows drive path',
    input: () => withEntries([{ name: 'C:/Windows/evil.dll', data: 'x' }]),
    errors: [
      entry('C:/Windows/evil.dll', 'absolute paths are not allowed: make the path relative'),
    ],
  },
  {
    name: 'a non-UTF-8 name',
    input: () =>
      withEntries([{ name: Buffer.from([0x61, 0xff, 0xfe, 0x2e, 0x6a, 0x73]), data: 'x' }]),
    errors: [
      entry('a\ufffd\ufffd.js', 'the name is not valid UTF-8: rename it with UTF-8 characters'),
    ],
  },
  {
    name: 'a name with control characters',
    input: () => withEntries([{ name: 'src/a\u001b[2Jb.js', data: 'x' }]),
    errors: [entry('src/a\u001b[2Jb.js', 'the name contains control characters: rename it')],
  },
  {
    name: 'a path longer than allowed',
    input: () => withEntries([{ name: `docs/${'a'.repeat(60)}.md`, data: 'x' }]),
    options: { limits: { maxPathBytes: 50 } },
    errors: [entry(`docs/${'a'.repeat(60)}.md`, 'the path is longer than 50 bytes: shorten it')],
  },
  {
    name: 'a path deeper than allowed',
    input: () => withEntries([{ name: 'docs/a/b/c/d.md', data: 'x' }]),
    options: { limits: { maxPathDepth: 4 } },
    errors: [
      entry('docs/a/b/c/d.md', 'the path is 5 levels deep; the limit is 4: flatten the folders'),
    ],
  },
  {
    name: 'a pax header renaming an entry to ../',
    input: () =>
      withEntries([paxEntry({ path: '../escape.js' }), { name: 'innocent.js', data: 'x' }]),
    errors: [entry('../escape.js', 'the path goes up with "..": keep every path inside the KRT')],
  },
  {
    name: 'a GNU long name going up',
    input: () =>
      withEntries([
        { name: '././@LongLink', type: 'L', data: `${'../'.repeat(40)}etc/cron.d/evil\u0000` },
        { name: 'short.js', data: 'x' },
      ]),
    errors: [
      entry(
        `${'../'.repeat(40)}etc/cron.d/evil`,
        'the path goes up with "..": keep every path inside the KRT',
      ),
    ],
  },
  {
    name: 'a ustar prefix making the path absolute',
    input: () => withEntries([{ name: 'passwd', prefix: '/etc', data: 'x' }]),
    errors: [entry('/etc/passwd', 'absolute paths are not allowed: make the path relative')],
  },

  // --- entries that are not plain files ----------------------------------------------------
  {
    name: 'a symbolic link',
    input: () => withEntries([{ name: 'src/link.js', type: '2', linkname: '/etc/passwd' }]),
    errors: [
      entry(
        'src/link.js',
        `symbolic links are not allowed (this one points to "/etc/passwd"): ${LINK_FIX}`,
      ),
    ],
  },
  {
    name: 'a symlinked folder followed by a file through it',
    input: () =>
      withEntries([
        { name: 'lib', type: '2', linkname: '/tmp' },
        { name: 'lib/evil.js', data: 'x' },
      ]),
    errors: [
      entry('lib', `symbolic links are not allowed (this one points to "/tmp"): ${LINK_FIX}`),
    ],
  },
  {
    name: 'a hard link',
    input: () => withEntries([{ name: 'copy.yaml', type: '1', linkname: 'kre.yaml' }]),
    errors: [
      entry('copy.yaml', `hard links are not allowed (this one points to "kre.yaml"): ${LINK_FIX}`),
    ],
  },
  {
    name: 'a character device',
    input: () => withEntries([{ name: 'null', type: '3' }]),
    errors: [entry('null', `device files are not allowed: ${ONLY_FILES}`)],
  },
  {
    name: 'a block device',
    input: () => withEntries([{ name: 'sda', type: '4' }]),
    errors: [entry('sda', `device files are not allowed: ${ONLY_FILES}`)],
  },
  {
    name: 'a FIFO',
    input: () => withEntries([{ name: 'pipe', type: '6' }]),
    errors: [entry('pipe', `FIFOs (named pipes) are not allowed: ${ONLY_FILES}`)],
  },
  {
    name: 'a GNU sparse file',
    input: () => withEntries([{ name: 'sparse.bin', type: 'S', data: 'x' }]),
    errors: [entry('sparse.bin', `tar entries of type SparseFile are not allowed: ${ONLY_FILES}`)],
  },
  {
    name: 'a GNU dump directory',
    input: () => withEntries([{ name: 'dump', type: 'D' }]),
    errors: [entry('dump', `tar entries of type GNUDumpDir are not allowed: ${ONLY_FILES}`)],
  },
  {
    name: 'an unknown entry type',
    input: () => withEntries([{ name: 'odd', type: 'Z', data: 'x' }]),
    errors: [entry('odd', `tar entries of type Unsupported are not allowed: ${ONLY_FILES}`)],
  },

  // --- duplicates and clashes --------------------------------------------------------------
  {
    name: 'the same file twice',
    input: () => withEntries([{ name: 'src/etl.js', data: 'other code' }]),
    errors: [entry('src/etl.js', 'the archive holds this file twice: keep one copy')],
  },
  {
    name: 'the manifest twice (the second could win elsewhere)',
    input: () => withEntries([{ name: './kre.yaml', data: 'version: other' }]),
    errors: [entry('./kre.yaml', 'the archive holds this file twice: keep one copy')],
  },
  {
    name: 'a folder and a file with the same name',
    input: () =>
      withEntries([
        { name: 'docs/', type: '5' },
        { name: 'docs', data: 'x' },
      ]),
    errors: [entry('docs', 'a folder and a file have the same name: rename one')],
  },
  {
    name: 'a file, then a folder of the same name',
    input: () =>
      withEntries([
        { name: 'notes', data: 'x' },
        { name: 'notes/', type: '5' },
      ]),
    errors: [entry('notes/', 'a folder and a file have the same name: rename one')],
  },
  {
    name: 'a file inside a file',
    input: () =>
      withEntries([
        { name: 'lib', data: 'x' },
        { name: 'lib/a.js', data: 'x' },
      ]),
    errors: [entry('lib/a.js', '"lib" is a file, so nothing can be inside it: rename one')],
  },

  // --- the manifest ------------------------------------------------------------------------
  {
    name: 'no manifest',
    input: () => krtBytes({ 'README.md': 'hi', 'src/a.js': 'x' }),
    errors: [
      {
        path: 'manifest',
        message: 'no kre.yaml (or kre.yml, krt.yaml, krt.yml) at the KRT root',
        severity: 'error',
      },
    ],
  },
  {
    name: 'a manifest buried in a sub-folder',
    input: () => krtBytes({ 'README.md': 'hi', 'project/deep/kre.yaml': valid['kre.yaml'] }),
    errors: [
      {
        path: 'manifest',
        message:
          'no kre.yaml (or kre.yml, krt.yaml, krt.yml) at the KRT root (found "project/deep/kre.yaml", which is not at the root: pack from the folder that holds it)',
        severity: 'error',
      },
    ],
  },
  {
    name: 'two manifests',
    input: () => krtBytes({ ...valid, 'krt.yml': valid['kre.yaml'] }),
    errors: [
      {
        path: 'manifest',
        message: 'found kre.yaml and krt.yml: keep exactly one manifest',
        severity: 'error',
      },
    ],
  },
  {
    name: 'a manifest over 1 MiB',
    input: () => krtBytes({ ...valid, 'kre.yaml': `# ${'x'.repeat(MiB)}\n${valid['kre.yaml']}` }),
    errors: [manifestAt('kre.yaml is 1.0 MiB; the limit is 1 MiB: shorten the manifest')],
  },
  {
    name: 'an empty manifest',
    input: () => krtBytes({ ...valid, 'kre.yaml': '' }),
    errors: [manifestAt('the manifest is empty: write the KRT fields')],
  },
  {
    name: 'a manifest that is not UTF-8',
    input: () => krtBytes({ ...valid, 'kre.yaml': Buffer.from([0x76, 0x3a, 0x20, 0xc3, 0x28]) }),
    errors: [manifestAt('the manifest is not valid UTF-8: save it as UTF-8')],
  },
  {
    name: 'a manifest that is a list',
    input: () => krtBytes({ ...valid, 'kre.yaml': '- a\n- b\n' }),
    errors: [manifestAt('the manifest must be a mapping of fields (version, description, ...)')],
  },
  {
    name: 'a YAML syntax error',
    input: () => krtBytes({ ...valid, 'kre.yaml': 'version: demo\nworkflows: [a,\n  b: }\n' }),
    errors: [
      manifestAt(
        'YAML syntax error: missed comma between flow collection entries: fix the manifest there',
        3,
        6,
      ),
    ],
  },
  {
    name: 'a billion-laughs manifest (anchors and aliases)',
    input: () =>
      krtBytes({
        ...valid,
        'kre.yaml': 'a: &a ["lol","lol"]\nb: &b [*a,*a]\nc: [*b,*b]\n',
      }),
    errors: [
      at('a', ANCHOR, 1, 4),
      at('b', ANCHOR, 2, 4),
      at('b[0]', ALIAS, 2, 8),
      at('b[1]', ALIAS, 2, 11),
      at('c[0]', ALIAS, 3, 5),
      at('c[1]', ALIAS, 3, 8),
    ],
  },
  {
    name: 'a merge key',
    input: () => krtBytes({ ...valid, 'kre.yaml': 'base: {image: x}\nnode:\n  <<: {image: y}\n' }),
    errors: [
      {
        path: 'node["<<"]',
        message: 'YAML merge keys (<<) are not allowed: write the fields out in full',
        severity: 'error',
        line: 3,
        column: 3,
      },
    ],
  },
  {
    name: 'a __proto__ key',
    input: () =>
      krtBytes({ ...valid, 'kre.yaml': `${valid['kre.yaml']}__proto__:\n  polluted: true\n` }),
    errors: [
      {
        path: '__proto__',
        message: 'the key "__proto__" is not allowed: remove it',
        severity: 'error',
        line: 46,
        column: 1,
      },
    ],
  },
  {
    name: 'a constructor key',
    input: () => krtBytes({ ...valid, 'kre.yaml': 'entrypoint:\n  constructor: {prototype: 1}\n' }),
    errors: [
      {
        path: 'entrypoint.constructor',
        message: 'the key "constructor" is not allowed: remove it',
        severity: 'error',
        line: 2,
        column: 3,
      },
      {
        path: 'entrypoint.constructor.prototype',
        message: 'the key "prototype" is not allowed: remove it',
        severity: 'error',
        line: 2,
        column: 17,
      },
    ],
  },
  {
    name: 'a !!binary value',
    input: () => krtBytes({ ...valid, 'kre.yaml': 'version: !!binary aGVsbG8=\n' }),
    errors: [
      {
        path: 'version',
        message:
          'the YAML tag !!binary is not allowed: use plain strings, numbers, booleans, lists and mappings',
        severity: 'error',
        line: 1,
        column: 10,
      },
    ],
  },
  {
    name: 'a custom tag that a permissive loader would run',
    input: () =>
      krtBytes({ ...valid, 'kre.yaml': 'version: !!js/function "function () { return 1 }"\n' }),
    errors: [
      {
        path: 'version',
        message:
          'the YAML tag !!js/function is not allowed: use plain strings, numbers, booleans, lists and mappings',
        severity: 'error',
        line: 1,
        column: 10,
      },
    ],
  },
  {
    name: 'several YAML documents',
    input: () => krtBytes({ ...valid, 'kre.yaml': `${valid['kre.yaml']}---\nversion: other\n` }),
    errors: [manifestAt('the manifest holds several YAML documents (---): keep one')],
  },
  {
    name: 'a duplicate key (the second would silently win elsewhere)',
    input: () => krtBytes({ ...valid, 'kre.yaml': `${valid['kre.yaml']}version: other-v1\n` }),
    errors: [
      {
        path: 'version',
        message: 'the key "version" appears twice: keep one',
        severity: 'error',
        line: 46,
        column: 1,
      },
    ],
  },
  {
    name: 'a complex mapping key',
    input: () => krtBytes({ ...valid, 'kre.yaml': '? [a, b]\n: value\n' }),
    errors: [
      {
        path: '',
        message: 'mapping keys must be plain strings',
        severity: 'error',
        line: 1,
        column: 3,
      },
    ],
  },
  {
    name: 'a manifest nested deeper than 64 levels',
    input: () => krtBytes({ ...valid, 'kre.yaml': `a: ${'['.repeat(200)}${']'.repeat(200)}\n` }),
    errors: [
      manifestAt(
        'YAML syntax error: nesting exceeded maxDepth (64): fix the manifest there',
        1,
        67,
      ),
    ],
  },
];

describe('KRT archive corpus', () => {
  it('has at least 40 malformed or malicious archives', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases)('refuses $name', async ({ input, options, errors }) => {
    const failure = await krtFailure(openKrt(streamOf(input()), options));
    expect(failure.errors).toEqual(errors);
    expect(failure.code).toBe('KRT_INVALID');
  });

  it('accepts the valid KRT the entry-level cases start from', async () => {
    const archive = await openKrt(streamOf(withEntries([])));
    expect(archive.krt.version).toBe('demo-v1');
  });

  describe('from a file path', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'krt-corpus-'));
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it('refuses a file over the compressed limit before reading it', async () => {
      const file = join(dir, 'big.krt');
      await writeFile(file, validKrt);
      const stats = { compressedBytes: 0, uncompressedBytes: 0, entries: 0 };
      const failure = await krtFailure(
        openKrt(file, { limits: { maxCompressedBytes: 100 }, stats }),
      );
      expect(failure.errors).toEqual([
        archive('the archive is larger than 100 bytes: remove what the KRT does not need'),
      ]);
      expect(stats).toEqual({ compressedBytes: 0, uncompressedBytes: 0, entries: 0 });
    });

    it('reads a valid KRT from disk', async () => {
      const file = join(dir, 'ok.krt');
      await writeFile(file, validKrt);
      expect((await openKrt(file)).krt.workflows.map((w) => w.name)).toEqual(['classify', 'train']);
    });
  });
});
