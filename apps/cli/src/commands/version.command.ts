import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatBytes, KrtInvalidError, packKrt } from '@libs/krt';
import type { Command } from 'commander';
import type { ApiClient } from '../cli/api-client.js';
import { runtimeOf, type Cli, type GlobalOptions } from '../cli/cli.js';
import { CliError, EXIT } from '../cli/exit-codes.js';
import { progressBar, table } from '../cli/io.js';
import { parseDuration, poll } from '../cli/wait.js';

export interface VersionView {
  name: string;
  runtimeId: string;
  status: string;
  krtVersion: string;
  description: string;
  creationDate: string;
  publicationDate: string | null;
  errors: string[];
  config: { completed: boolean; vars: { key: string; type: string; isSet: boolean }[] };
  entrypointAddress: { http: string; grpc: string; grpcMetadata: string[] } | null;
  workflows: { name: string; entrypoint: string }[];
}
const VERSION_FIELDS =
  'name runtimeId status krtVersion description creationDate publicationDate errors config { completed vars { key type isSet } } entrypointAddress { http grpc grpcMetadata } workflows { name entrypoint }';

/** A lifecycle action: its mutation, the status `--wait` waits for, and what it is called. */
const ACTIONS = {
  start: { mutation: 'startVersion', target: 'STARTED', doing: 'start' },
  stop: { mutation: 'stopVersion', target: 'STOPPED', doing: 'stop' },
  publish: { mutation: 'publishVersion', target: 'PUBLISHED', doing: 'publish' },
  unpublish: { mutation: 'unpublishVersion', target: 'STARTED', doing: 'unpublish' },
  delete: { mutation: 'deleteVersion', target: 'DELETED', doing: 'delete' },
} as const;
type Action = keyof typeof ACTIONS;

interface RuntimeOption extends GlobalOptions {
  runtime?: string;
}
interface WaitOptions extends RuntimeOption {
  wait?: boolean;
  timeout: string;
}

async function getVersion(
  client: ApiClient,
  runtimeId: string,
  name: string,
): Promise<VersionView> {
  const { version } = await client.graphql<{ version: VersionView }>(
    `query($r: ID!, $n: String!) { version(runtimeId: $r, name: $n) { ${VERSION_FIELDS} } }`,
    { r: runtimeId, n: name },
  );
  return version;
}

/**
 * Waits until the version reaches `target` (DELETED: until it is gone), printing each job step
 * that watchVersion reports on stderr; ERROR ends the wait with exit code 8 and its errors.
 */
async function follow(
  cli: Cli,
  client: ApiClient,
  options: WaitOptions,
  runtimeId: string,
  name: string,
  target: string,
): Promise<VersionView | null> {
  const ws = client.subscriptions();
  const seen = new Set<string>();
  const unsubscribe = ws.subscribe<{
    watchVersion: {
      versionName: string;
      status: string | null;
      step: string | null;
      message: string | null;
    };
  }>(
    {
      query:
        'subscription($r: ID!) { watchVersion(runtimeId: $r) { versionName status step message } }',
      variables: { r: runtimeId },
    },
    {
      next: (result) => {
        const event = result.data?.watchVersion;
        if (!event || event.versionName !== name) return;
        const line = event.step
          ? `  step ${event.step}${event.message ? `: ${event.message}` : ''}`
          : event.status
            ? `  ${event.status}${event.message ? `: ${event.message}` : ''}`
            : '';
        if (line && !seen.has(line)) {
          seen.add(line);
          cli.progress(options, line);
        }
      },
      // Following is a nicety: the polling below decides; a refused or lost subscription only
      // loses the step lines.
      error: () => undefined,
      complete: () => undefined,
    },
  );
  try {
    return await poll(
      `version ${name} to be ${target}`,
      parseDuration(options.timeout),
      async () => {
        let version: VersionView;
        try {
          version = await getVersion(client, runtimeId, name);
        } catch (error) {
          if (target === 'DELETED' && error instanceof CliError && error.exitCode === EXIT.notFound)
            return null;
          throw error;
        }
        if (version.status === target) return version;
        if (version.status === 'ERROR') {
          throw new CliError(
            `version ${name} is in ERROR: ${version.errors.join('; ') || 'no reason given'}; fix it, then start it again (or stop it)`,
            EXIT.error,
            'VERSION_ERROR',
            { version },
          );
        }
        return undefined;
      },
    );
  } finally {
    unsubscribe();
    await ws.dispose();
  }
}

export function registerVersionCommands(program: Command, cli: Cli): void {
  const version = program
    .command('version')
    .description("a runtime's versions: upload, start, publish, stop");

  version
    .command('upload <krt>')
    .description('upload a .krt, or pack and upload a project folder, as a new version')
    .option('-r, --runtime <id>', 'the runtime')
    .option('--wait', 'wait until the version is CREATED (or ERROR)')
    .option('--timeout <duration>', 'how long --wait waits', '2m')
    .addHelpText(
      'after',
      `
A folder is validated first: every error is listed with its path (exit code 3) and nothing is
uploaded. The server validates again and lists its errors the same way.

Examples:
  kre version upload examples/greeter -r demo
  kre version upload greeter-v1.krt -r demo --json`,
    )
    .action(
      cli.action<[string], WaitOptions>(async (options, target) => {
        const runtimeId = runtimeOf(options);
        const client = await cli.client(options);
        let file = resolve(target);
        let scratch: string | undefined;
        try {
          const info = await stat(file).catch(() => {
            throw new CliError(
              `${target}: no such file or folder (give a .krt or a project folder)`,
              EXIT.usage,
            );
          });
          if (info.isDirectory()) {
            scratch = await mkdtemp(join(tmpdir(), 'kre-upload-'));
            const packed = await packKrt(file, join(scratch, 'upload.krt')).catch(
              (error: unknown) => {
                if (error instanceof KrtInvalidError) {
                  throw new CliError(
                    `invalid KRT in ${target}: ${error.message}`,
                    EXIT.invalid,
                    'KRT_INVALID',
                    {
                      errors: error.errors,
                    },
                  );
                }
                throw error;
              },
            );
            file = join(scratch, 'upload.krt');
            cli.progress(
              options,
              `packed ${target}: version ${packed.krt.version}, ${packed.files.length} files`,
            );
          }
          cli.progress(
            options,
            `uploading ${formatBytes((await stat(file)).size)} to runtime ${runtimeId} ...`,
          );
          const showProgress = !options.json && cli.io.status;
          const uploaded = await client
            .uploadKrt(
              runtimeId,
              file,
              showProgress
                ? (sent, total) => cli.io.status?.(`uploading ${progressBar(sent, total)}`)
                : undefined,
            )
            .finally(() => {
              if (showProgress) cli.io.status?.('');
            })
            .catch((error: unknown) => {
              if (error instanceof CliError && error.code === 'KRT_INVALID') {
                throw new CliError(
                  `the server refused the KRT: ${error.message}`,
                  EXIT.invalid,
                  'KRT_INVALID',
                  error.details,
                );
              }
              throw error;
            });
          let result: unknown = uploaded;
          let status = uploaded.status;
          if (options.wait && status !== 'CREATED') {
            const done = await follow(cli, client, options, runtimeId, uploaded.name, 'CREATED');
            status = done?.status ?? status;
            result = done;
          }
          cli.print(options, result, () => [
            `version ${uploaded.name} (KRT ${uploaded.krtVersion}) uploaded to runtime ${runtimeId}: ${status}`,
          ]);
        } finally {
          if (scratch) await rm(scratch, { recursive: true, force: true });
        }
      }),
    );

  version
    .command('list')
    .description("a runtime's versions, newest first")
    .option('-r, --runtime <id>', 'the runtime')
    .action(
      cli.action<[], RuntimeOption>(async (options) => {
        const { versions } = await (
          await cli.client(options)
        ).graphql<{ versions: VersionView[] }>(
          `query($r: ID!) { versions(runtimeId: $r) { ${VERSION_FIELDS} } }`,
          { r: runtimeOf(options) },
        );
        cli.print(options, versions, () =>
          table(
            ['NAME', 'STATUS', 'KRT', 'CONFIG', 'CREATED', 'PUBLISHED'],
            versions.map((v) => [
              v.name,
              v.status,
              v.krtVersion,
              v.config.completed ? 'complete' : 'incomplete',
              v.creationDate,
              v.publicationDate,
            ]),
          ),
        );
      }),
    );

  version
    .command('status <name>')
    .description("a version's status, errors, config and address")
    .option('-r, --runtime <id>', 'the runtime')
    .action(
      cli.action<[string], RuntimeOption>(async (options, name) => {
        const v = await getVersion(await cli.client(options), runtimeOf(options), name);
        cli.print(options, v, () => [
          `version ${v.name} of runtime ${v.runtimeId}: ${v.status} (KRT ${v.krtVersion})`,
          ...v.errors.map((e) => `  error: ${e}`),
          `  config     ${
            v.config.completed
              ? 'complete'
              : `incomplete: ${v.config.vars
                  .filter((c) => !c.isSet)
                  .map((c) => c.key)
                  .join(', ')}`
          }`,
          `  workflows  ${v.workflows.map((w) => `${w.name} (rpc ${w.entrypoint})`).join(', ')}`,
          ...(v.entrypointAddress
            ? [
                `  HTTP       ${v.entrypointAddress.http}/<rpc>`,
                `  gRPC       ${v.entrypointAddress.grpc} (${v.entrypointAddress.grpcMetadata.join(', ')})`,
              ]
            : []),
        ]);
      }),
    );

  for (const action of Object.keys(ACTIONS) as Action[]) {
    const { mutation, target, doing } = ACTIONS[action];
    version
      .command(`${action} <name>`)
      .description(
        {
          start: 'start a version (needs a complete config); --wait until STARTED',
          stop: 'stop a version; --wait until STOPPED',
          publish: "make a STARTED version the runtime's published one; --wait until PUBLISHED",
          unpublish: 'take the published version off the runtime address; --wait until STARTED',
          delete: 'delete a CREATED, STOPPED or ERROR version and its archive; --wait until gone',
        }[action],
      )
      .option('-r, --runtime <id>', 'the runtime')
      .option('-m, --comment <text>', 'why (recorded in the audit log)', '')
      .option(
        '--wait',
        `follow the job's steps (watchVersion) until ${target === 'DELETED' ? 'the version is gone' : target}; ERROR exits 8`,
      )
      .option('--timeout <duration>', 'how long --wait waits', '5m')
      .addHelpText(
        'after',
        `\nExample:\n  kre version ${action} greeter-v1 -r demo${action === 'start' ? ' -m "first start"' : ''} --wait`,
      )
      .action(
        cli.action<[string], WaitOptions & { comment: string }>(async (options, name) => {
          const runtimeId = runtimeOf(options);
          const client = await cli.client(options);
          const data = await client.graphql<Record<string, { name: string; status: string }>>(
            `mutation($input: VersionActionInput!) { ${mutation}(input: $input) { name status } }`,
            { input: { runtimeId, versionName: name, comment: options.comment } },
          );
          let status = data[mutation].status;
          let result: unknown = { runtimeId, ...data[mutation] };
          if (options.wait) {
            cli.progress(options, `${doing} ${name}: ${status}`);
            const done = await follow(cli, client, options, runtimeId, name, target);
            status = done?.status ?? 'DELETED';
            result = done ?? { runtimeId, name, status };
          }
          cli.print(options, result, () => [`version ${name} of runtime ${runtimeId}: ${status}`]);
        }),
      );
  }
}
