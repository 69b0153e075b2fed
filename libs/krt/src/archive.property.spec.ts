import fc from 'fast-check';
import { dump, load } from 'js-yaml';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  extractKrt,
  KrtInvalidError,
  openKrt,
  type KrtLimits,
  type KrtReadStats,
} from './index.js';
import { V2_MANIFEST, v2Files } from './testing/krt.fixtures.js';
import { filesTar, gzip, tarBytes, type RawEntry } from './testing/tar.builder.js';

/**
 * Properties over arbitrary input: the reader either accepts or throws `KrtInvalidError` (never
 * anything else, never hangs), and the work it does stays within the limits it was given.
 */

const CHUNK = 512;
const INFLATE_CHUNK = 64 * 1024;
const limits: Partial<KrtLimits> = {
  maxCompressedBytes: 16 * 1024,
  maxUncompressedBytes: 96 * 1024,
  maxEntries: 16,
  maxFileBytes: 48 * 1024,
  maxManifestBytes: 8 * 1024,
  maxProtoBytes: 8 * 1024,
  maxProtoTotalBytes: 12 * 1024,
};

interface Judgement {
  valid: boolean;
  stats: KrtReadStats;
  pulled: number;
}

/** Feeds `bytes` in small chunks, counting what the reader pulls; checks the outcome's type. */
async function judge(bytes: Uint8Array): Promise<Judgement> {
  const stats: KrtReadStats = { compressedBytes: 0, uncompressedBytes: 0, entries: 0 };
  let pulled = 0;
  function* chunks(): Generator<Buffer> {
    for (let i = 0; i < bytes.length; i += CHUNK) {
      const chunk = Buffer.from(bytes.subarray(i, i + CHUNK));
      pulled += chunk.length;
      yield chunk;
    }
  }
  let valid = true;
  try {
    await openKrt(Readable.from(chunks()), { limits, stats });
  } catch (error) {
    if (!(error instanceof KrtInvalidError)) throw error;
    valid = false;
    const body = error.toJSON();
    expect(body.code).toBe('KRT_INVALID');
    expect(body.errors.some((e) => e.severity === 'error')).toBe(true);
    for (const issue of body.errors) {
      expect(typeof issue.path).toBe('string');
      expect(issue.message.length).toBeGreaterThan(0);
    }
    expect(JSON.parse(JSON.stringify(error))).toEqual(body);
  }
  return { valid, stats, pulled };
}

function expectBounded({ stats, pulled }: Judgement): void {
  expect(stats.compressedBytes).toBeLessThanOrEqual((limits.maxCompressedBytes ?? 0) + CHUNK);
  expect(stats.uncompressedBytes).toBeLessThanOrEqual(
    (limits.maxUncompressedBytes ?? 0) + INFLATE_CHUNK,
  );
  expect(stats.entries).toBeLessThanOrEqual((limits.maxEntries ?? 0) + 1);
  // Readable.from reads ahead at most its high-water mark (16 chunks in object mode).
  expect(pulled).toBeLessThanOrEqual((limits.maxCompressedBytes ?? 0) + 18 * CHUNK);
}

const name = fc.oneof(
  fc.constantFrom('kre.yaml', 'src/etl.js', 'public_input.proto', 'a.proto', 'docs/README.md'),
  fc
    .array(fc.constantFrom('..', '.', '', 'src', 'kre.yaml', 'x', '\\', 'C:', '\u0000', 'é'), {
      minLength: 1,
      maxLength: 6,
    })
    .map((parts) => parts.join('/')),
  fc.string({ maxLength: 120 }),
  fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b)),
);

const rawEntry: fc.Arbitrary<RawEntry> = fc.record(
  {
    name,
    type: fc.constantFrom(
      '0',
      '0',
      '0',
      '5',
      '1',
      '2',
      '3',
      '4',
      '6',
      '7',
      'x',
      'g',
      'L',
      'K',
      'S',
      'D',
      'Z',
    ),
    data: fc.oneof(
      fc.uint8Array({ maxLength: 3000 }).map((b) => Buffer.from(b)),
      fc.constantFrom(V2_MANIFEST, 'path=../x\n', '30 path=../../etc/passwd\n'),
    ),
    size: fc.integer({ min: 0, max: 2 ** 33 }),
    linkname: fc.string({ maxLength: 50 }),
    mode: fc.integer({ min: 0, max: 0o7777 }),
    corruptChecksum: fc.boolean(),
  },
  { requiredKeys: ['name', 'type', 'data'] },
);

const validTar = filesTar(v2Files());

describe('KRT reader properties', () => {
  it('judges arbitrary bytes with its own error only, within bounds', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 40_000 }), async (bytes) => {
        const outcome = await judge(bytes);
        expect(outcome.valid).toBe(false);
        expectBounded(outcome);
      }),
      { numRuns: 150 },
    );
  });

  it('judges gzip of arbitrary bytes with its own error only, within bounds', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 20_000 }),
          fc.integer({ min: 0, max: 400_000 }).map((n) => new Uint8Array(n)),
        ),
        async (bytes) => expectBounded(await judge(gzip(Buffer.from(bytes)))),
      ),
      { numRuns: 150 },
    );
  });

  it('judges arbitrary tar entries (links, devices, lying sizes, pax) with its own error only', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(rawEntry, { maxLength: 24 }), fc.boolean(), async (entries, end) =>
        expectBounded(await judge(gzip(tarBytes(entries, { end })))),
      ),
      { numRuns: 300 },
    );
  });

  it('judges a valid KRT with random bytes changed with its own error only', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(validTar.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.boolean(),
        async (changes, afterGzip) => {
          const tar = Buffer.from(validTar);
          let bytes = afterGzip ? gzip(tar) : tar;
          for (const [at, value] of changes) bytes[at % bytes.length] = value;
          if (!afterGzip) bytes = gzip(bytes);
          expectBounded(await judge(bytes));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('judges arbitrary manifest text with its own error only', async () => {
    const text = fc.oneof(
      fc.string({ maxLength: 400 }),
      fc.string({ unit: 'binary', maxLength: 400 }),
      fc
        .array(
          fc.constantFrom(
            'a: ',
            '- ',
            '&x ',
            '*x ',
            '<<: ',
            '!!binary ',
            '{',
            '}',
            '[',
            ']',
            '\n',
            '  ',
            '"',
            "'",
            'version',
            '__proto__',
            ': ',
            '---\n',
            '? ',
            '|',
            '>',
            '#',
            '%TAG ! tag:x,2000:\n',
          ),
          { maxLength: 60 },
        )
        .map((parts) => parts.join('')),
    );
    await fc.assert(
      fc.asyncProperty(text, async (manifest) => {
        const outcome = await judge(gzip(filesTar({ ...v2Files(), 'kre.yaml': manifest })));
        expectBounded(outcome);
      }),
      { numRuns: 300 },
    );
  });

  it('judges any JSON value placed anywhere in a valid manifest with its own error only', async () => {
    const base = load(V2_MANIFEST) as Record<string, unknown>;
    const paths = collectPaths(base);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom(...paths), fc.jsonValue({ maxDepth: 3 })), {
          minLength: 1,
          maxLength: 4,
        }),
        async (edits) => {
          const manifest = structuredClone(base);
          for (const [path, value] of edits) setAt(manifest, path, value);
          const text = dump(manifest);
          expectBounded(await judge(gzip(filesTar({ ...v2Files(), 'kre.yaml': text }))));
        },
      ),
      { numRuns: 300 },
    );
  });

  describe('extraction', () => {
    let work: string;
    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'krt-prop-'));
    });
    afterAll(() => rm(work, { recursive: true, force: true }));

    it('never leaves anything outside dest, whatever the entries', async () => {
      const valid = Object.entries(v2Files()).map(([n, data]) => ({ name: n, data }));
      await fc.assert(
        fc.asyncProperty(fc.array(rawEntry, { maxLength: 10 }), async (extra) => {
          const dest = join(work, 'krt');
          try {
            await extractKrt(Readable.from([gzip(tarBytes([...valid, ...extra]))]), {
              dest,
              limits,
            });
            expect(await readdir(work)).toEqual(['krt']);
          } catch (error) {
            if (!(error instanceof KrtInvalidError)) throw error;
            expect(await readdir(work)).toEqual([]);
          } finally {
            await rm(dest, { recursive: true, force: true });
          }
        }),
        { numRuns: 100 },
      );
    });
  });
});

type Path = (string | number)[];

function collectPaths(value: unknown, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(value)) value.forEach((v, i) => collectPaths(v, [...at, i], out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) collectPaths(v, [...at, k], out);
  }
  return out;
}

function setAt(root: Record<string, unknown>, path: Path, value: unknown): void {
  if (!path.length) return;
  let node: unknown = root;
  for (const key of path.slice(0, -1)) {
    if (!node || typeof node !== 'object') return;
    node = (node as Record<string | number, unknown>)[key];
  }
  if (node && typeof node === 'object') {
    (node as Record<string | number, unknown>)[path[path.length - 1]] = value;
  }
}
