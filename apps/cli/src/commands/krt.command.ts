import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  formatBytes,
  KrtInvalidError,
  openKrt,
  packKrt,
  validateKrtDirectory,
  type KrtArchive,
} from '@libs/krt';
import type { Command } from 'commander';
import { EXIT as CLI_EXIT } from '../cli/exit-codes.js';
import {
  countIssues,
  formatGraph,
  formatIssues,
  formatSummary,
  summaryJson,
} from './krt/krt.output.js';

/** Exit codes of the `kre krt` commands: the CLI's own (docs/cli.md), 3 for an invalid KRT. */
export const EXIT = {
  ok: CLI_EXIT.ok,
  invalid: CLI_EXIT.invalid,
  failed: CLI_EXIT.failed,
} as const;

/** Where a command writes (the terminal by default; tests collect lines). */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

const terminal: Output = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

/** Adds `kre krt pack | validate | inspect` to the program. */
export function registerKrtCommands(program: Command): void {
  const krt = program
    .command('krt')
    .description('pack, validate and inspect KRT files (.krt) and KRT project folders');
  krt
    .command('pack <dir>')
    .description(
      'pack a project folder into a .krt (honours .krtignore; refuses an invalid project)',
    )
    .option('-o, --output <file>', 'where to write the .krt (default: <version>.krt)')
    .action(async (dir: string, options: { output?: string }) => {
      process.exitCode = await packCommand(dir, options);
    });
  krt
    .command('validate <target>')
    .description('validate a .krt file or a project folder; lists every problem at once')
    .option('--json', 'print the result as JSON (the KRT_INVALID error shape when invalid)')
    .action(async (target: string, options: { json?: boolean }) => {
      process.exitCode = await validateCommand(target, options);
    });
  krt
    .command('inspect <target>')
    .description('print each workflow of a .krt file or project folder as a graph')
    .action(async (target: string) => {
      process.exitCode = await inspectCommand(target);
    });
}

/** `kre krt validate`: 0 valid, 3 invalid (every error listed), 1 the target cannot be read. */
export async function validateCommand(
  target: string,
  options: { json?: boolean } = {},
  io: Output = terminal,
): Promise<number> {
  return guarded(
    io,
    async () => {
      const archive = await readTarget(target);
      if (options.json) io.out(JSON.stringify(summaryJson(archive), null, 2));
      else formatSummary(archive).forEach((line) => io.out(line));
      return EXIT.ok;
    },
    options.json,
  );
}

/** `kre krt inspect`: the workflows as graphs. */
export async function inspectCommand(target: string, io: Output = terminal): Promise<number> {
  return guarded(io, async () => {
    const archive = await readTarget(target);
    formatGraph(archive.krt).forEach((line) => io.out(line));
    if (archive.krt.warnings.length) {
      io.out('');
      io.out(`${countIssues(archive.krt.warnings)}:`);
      formatIssues(archive.krt.warnings).forEach((line) => io.out(line));
    }
    return EXIT.ok;
  });
}

/** `kre krt pack`: validates the folder, then writes the archive (nothing when invalid). */
export async function packCommand(
  dir: string,
  options: { output?: string } = {},
  io: Output = terminal,
): Promise<number> {
  return guarded(io, async () => {
    if (!(await stat(dir)).isDirectory()) {
      io.err(`error: ${dir} is not a folder: pack a project folder (the one holding kre.yaml)`);
      return EXIT.failed;
    }
    const output =
      options.output ?? join(process.cwd(), `${(await validateKrtDirectory(dir)).krt.version}.krt`);
    const packed = await packKrt(dir, output);
    const size = (await stat(output)).size;
    io.out(
      `packed ${resolve(output)}: KRT ${packed.krt.krtVersion}, version ${packed.krt.version}, ${packed.files.length} files, ${formatBytes(size)}`,
    );
    if (packed.krt.warnings.length) {
      io.out(`${countIssues(packed.krt.warnings)}:`);
      formatIssues(packed.krt.warnings).forEach((line) => io.out(line));
    }
    return EXIT.ok;
  });
}

/** A folder is validated as it would be packed; anything else is read as a .krt archive. */
async function readTarget(target: string): Promise<KrtArchive> {
  return (await stat(target)).isDirectory() ? validateKrtDirectory(target) : openKrt(target);
}

/** Turns every failure into a message and an exit code: the CLI never prints a stack trace. */
async function guarded(io: Output, run: () => Promise<number>, json = false): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof KrtInvalidError) {
      if (json) {
        io.out(JSON.stringify(error, null, 2));
      } else {
        io.out(`invalid KRT: ${countIssues(error.errors)}`);
        formatIssues(error.errors).forEach((line) => io.out(line));
      }
      return EXIT.invalid;
    }
    io.err(`error: ${describe(error)}`);
    return EXIT.failed;
  }
}

function describe(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT' && e.path) return `${e.path}: no such file or folder`;
  if (e?.code === 'EACCES' && e.path) return `${e.path}: permission denied`;
  return error instanceof Error ? error.message : String(error);
}
