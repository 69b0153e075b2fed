import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { runtimeOf, type Cli, type GlobalOptions } from '../cli/cli.js';
import { CliError, EXIT } from '../cli/exit-codes.js';
import { table } from '../cli/io.js';

interface ConfigVar {
  key: string;
  type: string;
  isSet: boolean;
  value?: string | null;
}
interface RuntimeOption extends GlobalOptions {
  runtime?: string;
}

/**
 * `KEY=value` pairs; `KEY=@path` reads the value from a file (for config files, or secrets kept
 * off the command line), `KEY=@-` from stdin.
 */
export async function parseAssignments(
  pairs: readonly string[],
  readStdin: () => Promise<string>,
): Promise<{ key: string; value: string }[]> {
  const out: { key: string; value: string }[] = [];
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`"${pair}" is not KEY=VALUE (or KEY=@file)`, EXIT.usage);
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    let value = raw;
    if (raw === '@-') value = await readStdin();
    else if (raw.startsWith('@')) {
      value = await readFile(raw.slice(1), 'utf8').catch((error: NodeJS.ErrnoException) => {
        throw new CliError(
          `${key}: cannot read ${raw.slice(1)} (${error.code ?? error.message})`,
          EXIT.usage,
        );
      });
    }
    out.push({ key, value });
  }
  return out;
}

/** A `.env` file: `KEY=value` lines; blank lines, `#` comments and `export ` are ignored; quotes stripped. */
export function parseEnvFile(text: string): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(trimmed);
    if (!match) throw new CliError(`line ${i + 1}: "${trimmed}" is not KEY=VALUE`, EXIT.invalid);
    let value = match[2];
    const quoted = /^(["'])([\s\S]*)\1$/.exec(value);
    if (quoted)
      value = quoted[1] === '"' ? quoted[2].replace(/\\n/g, '\n').replace(/\\"/g, '"') : quoted[2];
    out.push({ key: match[1], value });
  });
  return out;
}

export function registerConfigCommands(program: Command, cli: Cli): void {
  const config = program.command('config').description("a version's config: variables and files");

  const update = async (
    options: RuntimeOption,
    name: string,
    values: { key: string; value: string }[],
  ) => {
    if (values.length === 0) throw new CliError('nothing to set: give KEY=VALUE pairs', EXIT.usage);
    const { updateVersionUserConfiguration: v } = await (
      await cli.client(options)
    ).graphql<{
      updateVersionUserConfiguration: { status: string; config: { completed: boolean } };
    }>(
      'mutation($input: UpdateConfigurationInput!) { updateVersionUserConfiguration(input: $input) { status config { completed } } }',
      {
        input: { runtimeId: runtimeOf(options), versionName: name, configurationVariables: values },
      },
    );
    const result = {
      version: name,
      keys: values.map((x) => x.key),
      status: v.status,
      completed: v.config.completed,
    };
    cli.print(options, result, () => [
      `set ${result.keys.join(', ')} on ${name}; config ${v.config.completed ? 'complete' : 'incomplete'}${['STARTED', 'PUBLISHED'].includes(v.status) ? ' (the running workloads roll onto it)' : ''}`,
    ]);
  };

  config
    .command('get <version> [key]')
    .description('the config of a version (values hidden unless --show-values)')
    .option('-r, --runtime <id>', 'the runtime')
    .option('--show-values', 'print the values too (VIEWERs never see them)')
    .addHelpText(
      'after',
      '\nExamples:\n  kre config get greeter-v1 -r demo\n  kre config get greeter-v1 GREETING -r demo --show-values',
    )
    .action(
      cli.action<[string, string | undefined], RuntimeOption & { showValues?: boolean }>(
        async (options, name, key) => {
          const { version } = await (
            await cli.client(options)
          ).graphql<{ version: { config: { completed: boolean; vars: ConfigVar[] } } }>(
            `query($r: ID!, $n: String!) { version(runtimeId: $r, name: $n) { config { completed vars { key type isSet ${options.showValues ? 'value' : ''} } } } }`,
            { r: runtimeOf(options), n: name },
          );
          let vars = version.config.vars;
          if (key !== undefined) {
            vars = vars.filter((v) => v.key === key);
            if (vars.length === 0) {
              throw new CliError(
                `"${key}" is not a config key of ${name} (known: ${version.config.vars.map((v) => v.key).join(', ') || 'none'})`,
                EXIT.notFound,
              );
            }
          }
          if (key !== undefined && options.showValues && !options.json)
            return void cli.io.out(vars[0].value ?? '');
          cli.print(options, { completed: version.config.completed, vars }, () =>
            table(
              options.showValues ? ['KEY', 'TYPE', 'SET', 'VALUE'] : ['KEY', 'TYPE', 'SET'],
              vars.map((v) => [
                v.key,
                v.type,
                v.isSet ? 'yes' : 'no',
                ...(options.showValues ? [v.value ?? ''] : []),
              ]),
            ),
          );
        },
      ),
    );

  config
    .command('set <version> <assignments...>')
    .description("set config values: KEY=value, KEY=@file (a file's content), KEY=@- (stdin)")
    .option('-r, --runtime <id>', 'the runtime')
    .addHelpText(
      'after',
      '\nExamples:\n  kre config set greeter-v1 GREETING=Howdy -r demo\n  kre config set classifier-v1 MODEL_CONFIG=@model.json API_KEY=@- -r demo < key.txt',
    )
    .action(
      cli.action<[string, string[]], RuntimeOption>(async (options, name, pairs) => {
        await update(options, name, await parseAssignments(pairs, () => cli.io.readStdin()));
      }),
    );

  config
    .command('unset <version> <keys...>')
    .description(
      'remove config values: the keys are not set again (the version must not be running)',
    )
    .option('-r, --runtime <id>', 'the runtime')
    .addHelpText(
      'after',
      '\nA version runs only with every value set: unset values of a CREATED, STOPPED or ERROR\nversion (exit 7 otherwise), then set new ones before it starts.\n\nExample:\n  kre config unset greeter-v1 GREETING -r demo',
    )
    .action(
      cli.action<[string, string[]], RuntimeOption>(async (options, name, keys) => {
        const { unsetVersionUserConfiguration: v } = await (
          await cli.client(options)
        ).graphql<{
          unsetVersionUserConfiguration: { status: string; config: { completed: boolean } };
        }>(
          'mutation($input: UnsetConfigurationInput!) { unsetVersionUserConfiguration(input: $input) { status config { completed } } }',
          { input: { runtimeId: runtimeOf(options), versionName: name, keys } },
        );
        const result = { version: name, keys, status: v.status, completed: v.config.completed };
        cli.print(options, result, () => [
          `unset ${keys.join(', ')} on ${name}; config ${v.config.completed ? 'complete' : 'incomplete'}`,
        ]);
      }),
    );

  config
    .command('import <version> <file>')
    .description('set every KEY=value of a .env file')
    .option('-r, --runtime <id>', 'the runtime')
    .addHelpText('after', '\nExample:\n  kre config import greeter-v1 prod.env -r demo')
    .action(
      cli.action<[string, string], RuntimeOption>(async (options, name, file) => {
        const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
          throw new CliError(`cannot read ${file} (${error.code ?? error.message})`, EXIT.usage);
        });
        await update(options, name, parseEnvFile(text));
      }),
    );
}
