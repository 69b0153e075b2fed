import type { Command } from 'commander';
import { runtimeOf, type Cli, type GlobalOptions } from '../cli/cli.js';
import { CliError, EXIT, exitCodeOf } from '../cli/exit-codes.js';
import { parseDuration } from '../cli/wait.js';

interface NodeLog {
  id: string | null;
  date: string;
  level: string;
  message: string;
  nodeName: string;
  replica: string;
  requestId: string | null;
  source: string;
  versionName: string;
  workflowName: string | null;
  fields: string | null;
}
const LOG_FIELDS =
  'id date level message nodeName replica requestId source versionName workflowName fields';
const LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'];

interface LogsOptions extends GlobalOptions {
  runtime?: string;
  versionName?: string;
  since: string;
  from?: string;
  to?: string;
  level: string[];
  node: string[];
  workflow: string[];
  search?: string;
  requestId?: string;
  limit: string;
  follow?: boolean;
}

const repeatable = (value: string, all: string[]) => [...all, ...value.split(',')];

function date(value: string, option: string): string {
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) {
    throw new CliError(
      `${option} "${value}" is not a date (ISO 8601: 2026-12-06T10:00:00Z)`,
      EXIT.usage,
    );
  }
  return new Date(parsed).toISOString();
}

/** One line per record: time, level, where, message. */
export function formatLog(log: NodeLog): string {
  const where = `${log.versionName}/${log.nodeName}${log.replica ? `#${log.replica}` : ''}`;
  return `${log.date} ${log.level.padEnd(5)} ${where}${log.requestId ? ` [${log.requestId}]` : ''} ${log.message}`;
}

export function registerLogsCommand(program: Command, cli: Cli): void {
  program
    .command('logs')
    .description("a runtime's log lines (oldest first), or --follow a version's live")
    .option('-r, --runtime <id>', 'the runtime')
    .option('--version-name <name>', 'only this version (needed by --follow; repeat not supported)')
    .option('--since <duration>', 'from this long ago (90s, 15m)', '60m')
    .option('--from <date>', 'from this moment (ISO 8601; beats --since)')
    .option('--to <date>', 'up to this moment (default now)')
    .option(
      '--level <level>',
      'DEBUG, INFO, WARN, ERROR (repeatable, or comma-separated)',
      repeatable,
      [] as string[],
    )
    .option(
      '--node <id>',
      'node id (<workflow>.<node>… as the API names it) or entrypoint (repeatable)',
      repeatable,
      [] as string[],
    )
    .option('--workflow <name>', 'workflow (repeatable)', repeatable, [] as string[])
    .option('--search <text>', 'case-insensitive substring of the message')
    .option('--request-id <id>', 'one request')
    .option('--limit <n>', 'at most this many lines (the newest ones)', '100')
    .option('-f, --follow', 'print new lines of --version-name as they come, until interrupted')
    .addHelpText(
      'after',
      `
With --json: the records as a JSON array (oldest first); with --follow, one JSON object a line.

Examples:
  kre logs -r demo --since 15m --level ERROR
  kre logs -r demo --version-name greeter-v1 --request-id 7f3c… --json
  kre logs -r demo --version-name greeter-v1 --follow`,
    )
    .action(
      cli.action<[], LogsOptions>(async (options) => {
        const runtimeId = runtimeOf(options);
        const levels = options.level.map((l) => l.toUpperCase());
        const wrong = levels.filter((l) => !LEVELS.includes(l));
        if (wrong.length)
          throw new CliError(
            `unknown level ${wrong.join(', ')}: use ${LEVELS.join(', ')}`,
            EXIT.usage,
          );
        const limit = Number(options.limit);
        if (!Number.isInteger(limit) || limit < 1)
          throw new CliError(
            `--limit "${options.limit}" is not a positive whole number`,
            EXIT.usage,
          );
        const common = {
          ...(levels.length ? { levels } : {}),
          ...(options.node.length ? { nodeNames: options.node } : {}),
          ...(options.workflow.length ? { workflowNames: options.workflow } : {}),
          ...(options.search ? { search: options.search } : {}),
          ...(options.requestId ? { requestId: options.requestId } : {}),
        };
        const client = await cli.client(options);

        if (options.follow) {
          if (!options.versionName) {
            throw new CliError('--follow needs the version: --version-name <name>', EXIT.usage);
          }
          const ws = client.subscriptions();
          await new Promise<void>((resolve, reject) => {
            const stop = ws.subscribe<{ watchNodeLogs: NodeLog }>(
              {
                query: `subscription($r: ID!, $v: String!, $f: LogTailFilters) { watchNodeLogs(runtimeId: $r, versionName: $v, filters: $f) { ${LOG_FIELDS} } }`,
                variables: { r: runtimeId, v: options.versionName, f: common },
              },
              {
                next: (result) => {
                  const error = result.errors?.[0];
                  if (error) {
                    stop();
                    const code = error.extensions?.code;
                    return reject(
                      new CliError(
                        error.message,
                        exitCodeOf(typeof code === 'string' ? code : undefined),
                        typeof code === 'string' ? code : 'FAILED',
                      ),
                    );
                  }
                  const log = result.data?.watchNodeLogs;
                  if (log) cli.io.out(options.json ? JSON.stringify(log) : formatLog(log));
                },
                error: (error) =>
                  reject(
                    new CliError(
                      `the log stream ended: ${error instanceof Error ? error.message : JSON.stringify(error)}`,
                      EXIT.failed,
                    ),
                  ),
                complete: () => resolve(),
              },
            );
            process.once('SIGINT', () => {
              stop();
              resolve();
            });
          }).finally(() => ws.dispose());
          return;
        }

        const filters = {
          ...common,
          startDate: options.from
            ? date(options.from, '--from')
            : new Date(Date.now() - parseDuration(options.since)).toISOString(),
          ...(options.to ? { endDate: date(options.to, '--to') } : {}),
          ...(options.versionName ? { versionNames: [options.versionName] } : {}),
        };
        const items: NodeLog[] = [];
        let cursor: string | null = null;
        do {
          const { logs }: { logs: { cursor: string | null; items: NodeLog[] } } =
            await client.graphql(
              `query($r: ID!, $f: LogFilters!, $c: String, $l: Int) { logs(runtimeId: $r, filters: $f, cursor: $c, limit: $l) { cursor items { ${LOG_FIELDS} } } }`,
              { r: runtimeId, f: filters, c: cursor, l: Math.min(limit - items.length, 500) },
            );
          items.push(...logs.items);
          cursor = logs.cursor;
        } while (cursor && items.length < limit);
        const oldestFirst = items.slice(0, limit).reverse();
        cli.print(options, oldestFirst, () => oldestFirst.map(formatLog));
      }),
    );
}
