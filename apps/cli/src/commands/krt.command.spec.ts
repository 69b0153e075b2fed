import { cp, mkdtemp, readFile, rm, writeFile, mkdir, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openKrt } from '@libs/krt';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  EXIT,
  inspectCommand,
  packCommand,
  registerKrtCommands,
  validateCommand,
  type Output,
} from './krt.command.js';

const examples = fileURLToPath(new URL('../../../../examples/', import.meta.url));
const greeter = join(examples, 'greeter');
const classifier = join(examples, 'classifier');

function collect(): Output & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l) };
}

describe('kre krt', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'kre-cli-krt-'));
  });
  afterAll(() => rm(work, { recursive: true, force: true }));
  afterEach(() => {
    process.exitCode = undefined;
  });

  describe('validate', () => {
    it('summarises a valid v1 project folder', async () => {
      const io = collect();
      expect(await validateCommand(greeter, {}, io)).toBe(EXIT.ok);
      expect(io.lines).toEqual([
        'valid KRT v1: version greeter-v1 (kre.yaml, 6 files)',
        '  workflow "Greet" (greet), rpc Greet: 3 nodes',
        'no warnings',
      ]);
    });

    it('summarises a valid v2 project folder', async () => {
      const io = collect();
      expect(await validateCommand(classifier, {}, io)).toBe(EXIT.ok);
      expect(io.lines).toEqual([
        'valid KRT v2: version classifier-v1 (kre.yaml, 10 files)',
        '  workflow classify, rpc Classify: 4 nodes',
        '  workflow feedback, rpc SendFeedback: 2 nodes',
        'no warnings',
      ]);
    });

    it('lists every error and exits 1 when invalid; --json prints the error shape', async () => {
      const dir = join(work, 'broken');
      await mkdir(join(dir, 'src'), { recursive: true });
      await writeFile(
        join(dir, 'kre.yaml'),
        'krtVersion: v2\nversion: Broken\ndescription: d\nentrypoint: {proto: p.proto, image: i}\nworkflows: []\nextra: 1\n',
      );
      const io = collect();
      expect(await validateCommand(dir, {}, io)).toBe(EXIT.invalid);
      expect(io.lines).toEqual([
        'invalid KRT: 3 errors, 1 warning',
        '  warning extra (line 6, column 1): unknown field "extra" is ignored: remove it or fix its spelling (known: krtVersion, version, description, entrypoint, config, workflows)',
        '  error   version (line 2, column 10): "Broken" is not a valid version name: use lowercase letters, digits and single hyphens, starting with a letter and not ending with a hyphen (e.g. "my-project-v1")',
        '  error   workflows (line 5, column 12): "workflows" must not be empty: declare at least one workflow (name, entrypoint, exitpoint, nodes)',
        '  error   entrypoint.proto (line 4, column 21): "p.proto" is not a file in the KRT: add it, or fix the path (relative to the KRT root)',
      ]);
      const json = collect();
      expect(await validateCommand(dir, { json: true }, json)).toBe(EXIT.invalid);
      const body = JSON.parse(json.lines.join('\n')) as Record<string, unknown>;
      expect(Object.keys(body)).toEqual(['code', 'message', 'errors']);
      expect(body.code).toBe('KRT_INVALID');
      expect(body.errors).toHaveLength(4);
    });

    it('refuses a file that is not a KRT without a stack trace', async () => {
      const file = join(work, 'notes.txt');
      await writeFile(file, 'hello');
      const io = collect();
      expect(await validateCommand(file, {}, io)).toBe(EXIT.invalid);
      expect(io.lines).toEqual([
        'invalid KRT: 1 error',
        '  error   archive: the file is not a gzip-compressed tar (.krt): pack the project with `kre krt pack` or `tar -czf`',
      ]);
    });

    it('exits 2 with one line when the target cannot be read', async () => {
      const io = collect();
      const missing = join(work, 'missing.krt');
      expect(await validateCommand(missing, {}, io)).toBe(EXIT.failed);
      expect(io.errors).toEqual([`error: ${missing}: no such file or folder`]);
      expect(io.lines).toEqual([]);
    });
  });

  describe('pack', () => {
    it('packs the greeter and validates the result', async () => {
      const out = join(work, 'greeter.krt');
      const io = collect();
      expect(await packCommand(greeter, { output: out }, io)).toBe(EXIT.ok);
      expect(io.lines[0]).toMatch(
        new RegExp(`^packed ${out}: KRT v1, version greeter-v1, 6 files, [0-9.]+ (KiB|bytes)$`),
      );
      const json = collect();
      expect(await validateCommand(out, { json: true }, json)).toBe(EXIT.ok);
      expect(JSON.parse(json.lines.join('\n'))).toMatchObject({
        valid: true,
        krtVersion: 'v1',
        version: 'greeter-v1',
        workflows: [
          {
            name: 'greet',
            displayName: 'Greet',
            entrypoint: 'Greet',
            exitpoint: 'format-reply',
            nodes: 3,
          },
        ],
        warnings: [],
      });
    });

    it('honours .krtignore', async () => {
      const out = join(work, 'classifier.krt');
      expect(await packCommand(classifier, { output: out }, collect())).toBe(EXIT.ok);
      const { files } = await openKrt(out);
      expect(files).toEqual([
        '.krtignore',
        'docs/README.md',
        'kre.yaml',
        'public_input.proto',
        'src/check-feedback.mjs',
        'src/classifier.mjs',
        'src/escalation.mjs',
        'src/etl.mjs',
        'src/reply.mjs',
        'src/store-feedback.mjs',
      ]);
    });

    it('refuses an invalid project and writes nothing', async () => {
      const dir = join(work, 'invalid-project');
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'kre.yaml'), 'version: v\n');
      const out = join(work, 'out', 'invalid.krt');
      const io = collect();
      expect(await packCommand(dir, { output: out }, io)).toBe(EXIT.invalid);
      expect(io.lines[0]).toBe('invalid KRT: 4 errors');
      await expect(readdir(join(work, 'out'))).rejects.toThrow();
    });
  });

  describe('inspect', () => {
    it('prints each workflow as a graph with channels labelled', async () => {
      const io = collect();
      expect(await inspectCommand(classifier, io)).toBe(EXIT.ok);
      expect(io.lines).toEqual([
        'KRT v2, version classifier-v1: Classifies support tickets; urgent ones take the escalation branch.',
        '',
        'workflow classify, rpc Classify',
        '  nodes:',
        '    etl  src/etl.mjs',
        '    classifier  src/classifier.mjs, 2 replicas',
        '    escalation  src/escalation.mjs',
        '    reply  src/reply.mjs, exitpoint',
        '  graph:',
        '    entrypoint -> etl',
        '    etl -> classifier',
        '    classifier -[urgent]-> escalation',
        '    classifier -> reply',
        '    escalation -> reply',
        '    reply -> reply to Classify',
        '',
        'workflow feedback, rpc SendFeedback',
        '  nodes:',
        '    check  src/check-feedback.mjs',
        '    store  src/store-feedback.mjs, object store feedback (project), exitpoint',
        '  graph:',
        '    entrypoint -> check',
        '    check -> store',
        '    store -> reply to SendFeedback',
      ]);
    });

    it('shows v1 display names next to their slugs', async () => {
      const io = collect();
      expect(await inspectCommand(greeter, io)).toBe(EXIT.ok);
      expect(io.lines).toContain(
        '    make-greeting  "Make Greeting", src/make-greeting/handler.mjs',
      );
      expect(io.lines).toContain('    clean-name -> make-greeting');
    });

    it("shows a node's adaptive batching", async () => {
      const dir = join(work, 'batched');
      await cp(greeter, dir, { recursive: true });
      const manifest = join(dir, 'kre.yaml');
      await writeFile(
        manifest,
        (await readFile(manifest, 'utf8')).replace(
          '    src: src/make-greeting/handler.mjs\n',
          '    src: src/make-greeting/handler.mjs\n    batch: { maxSize: 16, maxLatencyMs: 5 }\n',
        ),
      );
      const io = collect();
      expect(await inspectCommand(dir, io)).toBe(EXIT.ok);
      expect(io.lines).toContain(
        '    make-greeting  "Make Greeting", src/make-greeting/handler.mjs, batches of up to 16 within 5 ms',
      );
    });
  });

  it('registers pack, validate and inspect under `krt`, setting the exit code', async () => {
    const program = new Command('kre').exitOverride();
    registerKrtCommands(program);
    const krt = program.commands.find((c) => c.name() === 'krt');
    expect(krt?.commands.map((c) => c.name())).toEqual(['pack', 'validate', 'inspect']);
    const logs: unknown[] = [];
    const original = console.log;
    console.log = (line: unknown) => void logs.push(line);
    try {
      await program.parseAsync(['krt', 'validate', greeter, '--json'], { from: 'user' });
    } finally {
      console.log = original;
    }
    expect(process.exitCode).toBe(EXIT.ok);
    expect(JSON.parse(String(logs[0]))).toMatchObject({ valid: true, version: 'greeter-v1' });
  });
});
