import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { Cli } from './cli/cli.js';
import { readCliEnv } from './cli/cli.env.js';
import { terminalIo, type Io } from './cli/io.js';
import { registerAuthCommands } from './commands/auth.command.js';
import { registerCallCommand } from './commands/call.command.js';
import { registerCompletionCommand } from './commands/completion.command.js';
import { registerConfigCommands } from './commands/config.command.js';
import { registerKrtCommands } from './commands/krt.command.js';
import { registerLogsCommand } from './commands/logs.command.js';
import { registerRuntimeCommands } from './commands/runtime.command.js';
import { registerTokenCommands } from './commands/token.command.js';
import { registerVersionCommands } from './commands/version.command.js';

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

const EXIT_CODES_HELP = `
Exit codes: 0 ok, 1 failed, 2 usage, 3 invalid input (e.g. an invalid KRT), 4 not signed in or
refused credentials, 5 forbidden, 6 not found, 7 conflict (wrong state), 8 --wait ended in ERROR,
9 --wait timed out, 10 API or gateway unreachable. Details: docs/cli.md.

Environment: KRE_API, KRE_CONTEXT, KRE_TOKEN, KRE_INVOCATION_KEY, KRE_GATEWAY, KRE_GRPC,
KRE_CONFIG_DIR (credentials: <user config dir>/kre/config.json, mode 0600), NO_COLOR.

Example: a first prediction
  kre login --api http://127.0.0.1:8080 --email admin@kre.local
  kre runtime create demo --wait
  kre version upload examples/greeter -r demo --wait
  kre config set greeter-v1 GREETING=Howdy -r demo
  kre version start greeter-v1 -r demo --wait && kre version publish greeter-v1 -r demo --wait
  kre call demo Greet -d '{"name": "Ada"}' --key "$(kre key create me -r demo -q)" --wait`;

/** The `kre` command line; `io` and `env` are the process's unless a test gives its own. */
export function createProgram(io?: Io, env = readCliEnv()): Command {
  const cli = new Cli(env, io ?? terminalIo(env.noColor));
  const program = new Command('kre')
    .description('KRE: upload, run and call AI/ML inference workflows')
    .version(packageVersion(), '-V, --version', 'print the version of kre')
    .addOption(new Option('--api <url>', "the admin API (default: KRE_API, else the context's)"))
    .addOption(
      new Option(
        '--context <name>',
        'the context to use (default: KRE_CONTEXT, else the current one)',
      ),
    )
    .option('--json', 'machine-readable output on stdout (errors as JSON on stderr)')
    .option('--no-input', 'never prompt, even on a terminal (off a terminal kre never does)')
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => process.stdout.write(text),
      writeErr: (text) => process.stderr.write(text),
      outputError: (text, write) => write(text),
    })
    .addHelpText('after', EXIT_CODES_HELP);
  registerAuthCommands(program, cli);
  registerRuntimeCommands(program, cli);
  registerVersionCommands(program, cli);
  registerConfigCommands(program, cli);
  registerTokenCommands(program, cli);
  registerCallCommand(program, cli);
  registerLogsCommand(program, cli);
  registerKrtCommands(program);
  registerCompletionCommand(program, cli);
  return program;
}
