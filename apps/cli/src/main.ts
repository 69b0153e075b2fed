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
    throw error;
  }
}
