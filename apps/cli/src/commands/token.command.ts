import type { Command } from 'commander';
import { runtimeOf, type Cli, type GlobalOptions } from '../cli/cli.js';
import { CliError, EXIT } from '../cli/exit-codes.js';
import { table } from '../cli/io.js';

interface ApiToken {
  id: string;
  name: string;
  creationDate: string;
  expiresAt: string;
  lastUsedAt: string | null;
}
const TOKEN_FIELDS = 'id name creationDate expiresAt lastUsedAt';

interface InvocationKey {
  id: string;
  name: string;
  runtimeId: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}
const KEY_FIELDS = 'id name runtimeId createdAt expiresAt lastUsedAt revokedAt';

interface Quiet extends GlobalOptions {
  quiet?: boolean;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new CliError(`"${value}" is not a whole number of days`, EXIT.usage);
  return n;
}

/** `kre token …` (API tokens, for programs) and `kre key …` (invocation keys, for a runtime's clients). */
export function registerTokenCommands(program: Command, cli: Cli): void {
  const token = program
    .command('token')
    .description('API tokens: credentials for programs (kre login --token, Authorization: Bearer)');
  token
    .command('create <name>')
    .description('mint an API token (needs a recent sign-in session; a token cannot mint tokens)')
    .option('--expires-in-days <days>', 'lifetime in days', '30')
    .option('-q, --quiet', 'print only the token (for scripts)')
    .addHelpText(
      'after',
      `
The token is shown once. Exit code 5 with "needs a signed-in session" when you are signed in with
a token: kre login --email first.

Examples:
  kre token create ci --expires-in-days 90
  KRE_TOKEN=$(kre token create deploy-bot -q)`,
    )
    .action(
      cli.action<[string], Quiet & { expiresInDays: string }>(async (options, name) => {
        const { generateApiToken } = await (
          await cli.client(options)
        ).graphql<{
          generateApiToken: { token: string; apiToken: ApiToken };
        }>(
          `mutation($input: GenerateApiTokenInput!) { generateApiToken(input: $input) { token apiToken { ${TOKEN_FIELDS} } } }`,
          { input: { name, expiresInDays: positiveInt(options.expiresInDays) } },
        );
        if (options.quiet && !options.json) return void cli.io.out(generateApiToken.token);
        cli.print(options, generateApiToken, () => [
          `API token "${name}" (id ${generateApiToken.apiToken.id}), expires ${generateApiToken.apiToken.expiresAt}; shown once:`,
          generateApiToken.token,
        ]);
      }),
    );
  token
    .command('list')
    .description('your API tokens (never their secrets)')
    .action(
      cli.action<[], GlobalOptions>(async (options) => {
        const { apiTokens } = await (
          await cli.client(options)
        ).graphql<{ apiTokens: ApiToken[] }>(`{ apiTokens { ${TOKEN_FIELDS} } }`);
        cli.print(options, apiTokens, () =>
          table(
            ['ID', 'NAME', 'CREATED', 'EXPIRES', 'LAST USED'],
            apiTokens.map((t) => [t.id, t.name, t.creationDate, t.expiresAt, t.lastUsedAt]),
          ),
        );
      }),
    );
  token
    .command('revoke <id>')
    .description('delete an API token: it is refused from its next request')
    .action(
      cli.action<[string], GlobalOptions>(async (options, id) => {
        const { deleteApiToken } = await (
          await cli.client(options)
        ).graphql<{ deleteApiToken: ApiToken }>(
          `mutation($input: DeleteApiTokenInput!) { deleteApiToken(input: $input) { ${TOKEN_FIELDS} } }`,
          { input: { id } },
        );
        cli.print(options, deleteApiToken, () => [
          `revoked API token "${deleteApiToken.name}" (${id})`,
        ]);
      }),
    );

  const key = program
    .command('key')
    .description("invocation keys: what a runtime's clients send to the gateway (kre call --key)");
  key
    .command('create <name>')
    .description('create an invocation key for a runtime (shown once)')
    .option('-r, --runtime <id>', 'the runtime')
    .option('--expires-at <date>', 'when it stops working (ISO 8601; default never)')
    .option('-q, --quiet', 'print only the key (for scripts)')
    .addHelpText(
      'after',
      '\nExamples:\n  kre key create mobile-app -r demo\n  KRE_INVOCATION_KEY=$(kre key create ci -r demo -q)',
    )
    .action(
      cli.action<[string], Quiet & { runtime?: string; expiresAt?: string }>(
        async (options, name) => {
          const runtimeId = runtimeOf(options);
          if (options.expiresAt !== undefined && Number.isNaN(Date.parse(options.expiresAt))) {
            throw new CliError(
              `--expires-at "${options.expiresAt}" is not a date (use ISO 8601: 2027-01-31T00:00:00Z)`,
              EXIT.usage,
            );
          }
          const { createInvocationKey } = await (
            await cli.client(options)
          ).graphql<{
            createInvocationKey: { key: string; invocationKey: InvocationKey };
          }>(
            `mutation($r: ID!, $input: CreateInvocationKeyInput!) { createInvocationKey(runtimeId: $r, input: $input) { key invocationKey { ${KEY_FIELDS} } } }`,
            {
              r: runtimeId,
              input: {
                name,
                ...(options.expiresAt
                  ? { expiresAt: new Date(options.expiresAt).toISOString() }
                  : {}),
              },
            },
          );
          if (options.quiet && !options.json) return void cli.io.out(createInvocationKey.key);
          cli.print(options, createInvocationKey, () => [
            `invocation key "${name}" for runtime ${runtimeId} (id ${createInvocationKey.invocationKey.id}); shown once:`,
            createInvocationKey.key,
          ]);
        },
      ),
    );
  key
    .command('list')
    .description("a runtime's invocation keys, revoked ones too (never the keys)")
    .option('-r, --runtime <id>', 'the runtime')
    .action(
      cli.action<[], GlobalOptions & { runtime?: string }>(async (options) => {
        const { invocationKeys } = await (
          await cli.client(options)
        ).graphql<{ invocationKeys: InvocationKey[] }>(
          `query($r: ID!) { invocationKeys(runtimeId: $r) { ${KEY_FIELDS} } }`,
          { r: runtimeOf(options) },
        );
        cli.print(options, invocationKeys, () =>
          table(
            ['ID', 'NAME', 'CREATED', 'EXPIRES', 'LAST USED', 'REVOKED'],
            invocationKeys.map((k) => [
              k.id,
              k.name,
              k.createdAt,
              k.expiresAt,
              k.lastUsedAt,
              k.revokedAt,
            ]),
          ),
        );
      }),
    );
  key
    .command('revoke <id>')
    .description('revoke an invocation key: gateways refuse it within seconds')
    .option('-r, --runtime <id>', 'the runtime')
    .action(
      cli.action<[string], GlobalOptions & { runtime?: string }>(async (options, id) => {
        const { revokeInvocationKey } = await (
          await cli.client(options)
        ).graphql<{ revokeInvocationKey: InvocationKey }>(
          `mutation($r: ID!, $id: ID!) { revokeInvocationKey(runtimeId: $r, id: $id) { ${KEY_FIELDS} } }`,
          { r: runtimeOf(options), id },
        );
        cli.print(options, revokeInvocationKey, () => [
          `revoked invocation key "${revokeInvocationKey.name}" (${id})`,
        ]);
      }),
    );
}
