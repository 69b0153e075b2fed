import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractKrt, openKrt, packKrt, validateKrtDirectory } from './index.js';
import { krtFailure } from './testing/krt.expect.js';
import { v2Files } from './testing/krt.fixtures.js';

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));

async function project(root: string, files: Record<string, string>): Promise<string> {
  for (const [path, data] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), data);
  }
  return root;
}

describe(packKrt.name, () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'krt-pack-'));
  });
  afterAll(() => rm(work, { recursive: true, force: true }));

  it('packs examples/greeter (v1) into a KRT that reads back the same', async () => {
    const out = join(work, 'greeter.krt');
    const packed = await packKrt(join(examples, 'greeter'), out);
    const read = await openKrt(out);
    expect(read.krt).toEqual(packed.krt);
    expect(
      read.krt.workflows.map((w) => [w.name, w.nodes.map((n) => n.name), w.exitpoint]),
    ).toEqual([['greet', ['clean-name', 'make-greeting', 'format-reply'], 'format-reply']]);
    expect(read.krt.config.variables).toEqual(['GREETING']);
    expect(read.krt.docs).toEqual(['docs/README.md']);
  });

  it('packs examples/classifier (v2) with its branch and channel', async () => {
    const out = join(work, 'classifier.krt');
    const { krt } = await packKrt(join(examples, 'classifier'), out);
    expect(krt.warnings).toEqual([]);
    const classify = krt.workflows.find((w) => w.name === 'classify');
    expect(classify?.nodes.find((n) => n.name === 'escalation')?.subscriptions).toEqual([
      { node: 'classifier', channel: 'urgent' },
    ]);
    expect(classify?.nodes.find((n) => n.name === 'reply')?.subscriptions).toEqual([
      { node: 'classifier' },
      { node: 'escalation' },
    ]);
    expect(krt.workflows.map((w) => w.entrypoint)).toEqual(['Classify', 'SendFeedback']);
  });

  it('round-trips through extraction', async () => {
    const dir = await project(join(work, 'roundtrip'), v2Files());
    const out = join(work, 'roundtrip.krt');
    await packKrt(dir, out);
    const extracted = await extractKrt(out, { dest: join(work, 'roundtrip-extracted') });
    expect(extracted.files).toEqual(Object.keys(v2Files()).sort());
  });

  it('reads KRTs made by GNU tar, with or without a wrapping folder', async () => {
    const dir = await project(join(work, 'gnu', 'proj'), v2Files());
    const flat = join(work, 'flat.krt');
    const wrapped = join(work, 'wrapped.krt');
    execFileSync('tar', ['-czf', flat, '-C', dir, '.']);
    execFileSync('tar', ['-czf', wrapped, '-C', join(work, 'gnu'), 'proj']);
    expect((await openKrt(flat)).topFolder).toBeUndefined();
    expect((await openKrt(wrapped)).topFolder).toBe('proj');
  });

  it('skips what .krtignore and the defaults name, and an older .krt inside the project', async () => {
    const dir = await project(join(work, 'ignoring'), {
      ...v2Files(),
      '.krtignore': 'scratch/\n*.log\n',
      'scratch/big.bin': 'x',
      'src/debug.log': 'x',
      'node_modules/dep/index.js': 'x',
      '.git/HEAD': 'ref',
      'old.krt': 'x',
    });
    const { files } = await packKrt(dir, join(dir, 'demo.krt'));
    expect(files).toEqual(['.krtignore', ...Object.keys(v2Files())].sort());
    expect((await packKrt(dir, join(dir, 'demo.krt'))).files).toEqual(files);
  });

  it('refuses links and special files in the project, and writes nothing', async () => {
    const dir = await project(join(work, 'links'), v2Files());
    await symlink('/etc/passwd', join(dir, 'src', 'passwd'));
    execFileSync('mkfifo', [join(dir, 'pipe')]);
    const out = join(work, 'links-out', 'links.krt');
    const failure = await krtFailure(packKrt(dir, out));
    expect(failure.errors).toEqual([
      {
        path: 'archive["pipe"]',
        message:
          'only regular files and folders can be packed: remove it, or list it in .krtignore',
        severity: 'error',
      },
      {
        path: 'archive["src/passwd"]',
        message:
          'symbolic links cannot be packed: replace it with the file itself, or list it in .krtignore',
        severity: 'error',
      },
    ]);
    await expect(readdir(join(work, 'links-out'))).rejects.toThrow(/ENOENT/);
  });

  it('applies the archive limits to folders too', async () => {
    const dir = await project(join(work, 'limits'), v2Files());
    const failure = await krtFailure(validateKrtDirectory(dir, { limits: { maxEntries: 3 } }));
    expect(failure.errors).toEqual([
      {
        path: 'archive',
        message:
          'the folder has more than 3 entries: list what the KRT does not need in .krtignore',
        severity: 'error',
      },
    ]);
  });
});
