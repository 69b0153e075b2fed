import type { Command } from 'commander';
import type { Cli, GlobalOptions } from '../cli/cli.js';
import { CliError, EXIT } from '../cli/exit-codes.js';

interface Node {
  path: string;
  subcommands: string[];
  options: string[];
}

/** Every command of the program with its subcommands and long options (global ones included). */
export function commandTree(program: Command): Node[] {
  const globals = program.options.map((o) => o.long).filter((l): l is string => Boolean(l));
  const nodes: Node[] = [];
  const walk = (command: Command, path: string) => {
    nodes.push({
      path,
      subcommands: command.commands.map((c) => c.name()).filter((n) => n !== 'help'),
      options: [
        ...command.options.map((o) => o.long).filter((l): l is string => Boolean(l)),
        ...(command === program ? [] : globals),
        '--help',
      ],
    });
    for (const sub of command.commands) walk(sub, `${path}/${sub.name()}`);
  };
  walk(program, '');
  return nodes;
}

/** A bash completion script (also read by zsh's bashcompinit): commands, then options or files. */
export function bashCompletion(program: Command): string {
  const nodes = commandTree(program);
  const known = nodes.filter((n) => n.path !== '').map((n) => `"${n.path}"`);
  const cases = nodes.map(
    (n) =>
      `    "${n.path}") words="${[...n.subcommands, ...n.options].join(' ')}"; leaf=${n.subcommands.length ? 0 : 1} ;;`,
  );
  return `# kre completion for bash: eval "$(kre completion bash)" (zsh: autoload bashcompinit && bashcompinit first)
_kre() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" node="" w words="" leaf=0
  for w in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$node/$w" in
      ${known.join('|')}) node="$node/$w" ;;
    esac
  done
  case "$node" in
${cases.join('\n')}
  esac
  if [[ "$cur" == -* || "$leaf" == 0 ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _kre kre
`;
}

export function registerCompletionCommand(program: Command, cli: Cli): void {
  program
    .command('completion <shell>')
    .description('print a shell completion script (bash; zsh through bashcompinit)')
    .addHelpText(
      'after',
      '\nExamples:\n  eval "$(kre completion bash)"                 # in ~/.bashrc\n  autoload -U bashcompinit && bashcompinit && eval "$(kre completion bash)"   # zsh',
    )
    .action(
      cli.action<[string], GlobalOptions>((_options, shell) => {
        if (shell !== 'bash' && shell !== 'zsh') {
          throw new CliError(
            `no completion for "${shell}": use bash (zsh reads it through bashcompinit)`,
            EXIT.usage,
          );
        }
        cli.io.out(bashCompletion(program));
        return Promise.resolve();
      }),
    );
}
