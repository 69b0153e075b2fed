import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { registerKrtCommands } from './commands/krt.command.js';

/** The repository's version, read from the nearest package.json (works from src/ and dist/). */
function packageVersion(): string {
  for (
    let dir = dirname(fileURLToPath(import.meta.url));
    dir !== dirname(dir);
    dir = dirname(dir)
  ) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'kre' && pkg.version) return pkg.version;
    } catch {
      // not here: keep walking up
    }
  }
  return '0.0.0';
}

/** The `kre` command line. */
export function createProgram(): Command {
  const program = new Command('kre')
    .description('KRE: upload, validate and run AI/ML inference workflows')
    .version(packageVersion())
    .showHelpAfterError()
    .configureOutput({ outputError: (text, write) => write(text) });
  registerKrtCommands(program);
  return program;
}
