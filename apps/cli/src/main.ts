import { CommanderError } from 'commander';
import { EXIT } from './cli/exit-codes.js';
import { createProgram } from './program.js';

try {
  await createProgram().parseAsync(process.argv);
} catch (error) {
  // exitOverride: help and --version end here with 0, usage errors (already printed) with 2.
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    // A bug: one line saying so, never a bare stack trace.
    process.stderr.write(
      `kre: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = EXIT.failed;
  }
}
