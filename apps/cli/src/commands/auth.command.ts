import type { Command } from 'commander';
import { ApiClient } from '../cli/api-client.js';
import type { Cli, GlobalOptions } from '../cli/cli.js';
import { checkContextName, type Credentials } from '../cli/config-store.js';
import { CliError, EXIT } from '../cli/exit-codes.js';
import { table } from '../cli/io.js';

/** Where `kre login` points when nothing else says: the dev stack of scripts/start. */
export const DEFAULT_API = 'http://127.0.0.1:8080';

interface Me {
  id: string;
  email: string;
  platformRole: string;
}
const ME = '{ me { id email platformRole } }';

/** The token of a sign-in link (`…/signin#<token>`), or the token itself. */
export function linkToken(link: string): string {
  const trimmed = link.trim();
  const fromLink = /[#?&](?:token=)?([A-Za-z0-9_-]{20,})\s*$/.exec(trimmed)?.[1];
  if (fromLink) return fromLink;
  if (/^[A-Za-z0-9_-]{20,}$/.test(trimmed)) return trimmed;
  throw new CliError(
    'that is not a sign-in link: paste the whole link from the mail (…/signin#…)',
    EXIT.usage,
  );
}

interface LoginOptions extends GlobalOptions {
  email?: string;
  link?: string;
  token?: boolean;
}

export function registerAuthCommands(program: Command, cli: Cli): void {
  program
    .command('login')
    .description('sign in to a KRE installation and keep the credentials in the current context')
    .option('--email <address>', 'mail a sign-in link to this address, then paste it')
    .option('--link <link>', 'finish a sign-in with the mailed link (…/signin#…)')
    .option('--token', 'use an API token: from KRE_TOKEN, else stdin, else a prompt')
    .addHelpText(
      'after',
      `
The API is --api, KRE_API, the context's, or ${DEFAULT_API}. Credentials are kept in the user's
config dir (file mode 0600), under the context (--context, default "default"), which becomes the
current one.

Examples:
  kre login --api https://kre.example.com --email ada@example.com   # mails a link, asks for it
  kre login --email ada@example.com --no-input    # just mail the link; then:
  kre login --link '<the link from the mail>'
  kre login --token < token.txt
  KRE_TOKEN=kre_… kre login --token --context ci`,
    )
    .action(
      cli.action<[], LoginOptions>(async (options) => {
        const modes = [
          options.email !== undefined || options.link !== undefined,
          options.token,
        ].filter(Boolean);
        if (modes.length !== 1) {
          throw new CliError(
            'choose one: kre login --email <address> (or --link <link>), or kre login --token',
            EXIT.usage,
          );
        }
        const { name, context } = await cli.selected(options);
        const api = cli.apiOf(options, context) ?? DEFAULT_API;
        let credentials: Credentials;
        let email: string;
        if (options.token) {
          const token = await readToken(cli, options);
          credentials = { type: 'token', token };
          email = (await new ApiClient(api, credentials).graphql<{ me: Me }>(ME)).me.email;
        } else {
          let link = options.link;
          if (!link) {
            await new ApiClient(api).requestSignInLink(options.email!);
            if (!cli.canPrompt(options)) {
              cli.print(options, { sent: true, email: options.email, api, context: name }, () => [
                `a sign-in link is on its way to ${options.email} (if that address may sign in).`,
                `finish with: kre login --link '<the link from the mail>'${options.context ? ` --context ${name}` : ''}`,
              ]);
              return EXIT.ok;
            }
            cli.io.err(
              `a sign-in link is on its way to ${options.email} (if that address may sign in).`,
            );
            link = await cli.io.prompt('paste the link from the mail: ');
          }
          const signedIn = await new ApiClient(api).verifySignInLink(linkToken(link));
          credentials = {
            type: 'session',
            cookie: signedIn.cookie,
            ...(signedIn.expiresAt ? { expiresAt: signedIn.expiresAt } : {}),
          };
          email = signedIn.user.email;
        }
        await cli.store.update((config) => {
          config.contexts[name] = { api, email, credentials };
          config.currentContext = name;
        });
        cli.print(options, { context: name, api, email, auth: credentials.type }, () => [
          `signed in to ${api} as ${email} (${credentials.type === 'token' ? 'API token' : 'session'}; context "${name}")`,
        ]);
      }),
    );

  program
    .command('logout')
    .description("forget the context's credentials (a session also ends on the server)")
    .addHelpText(
      'after',
      '\nAn API token stays valid after logout: revoke it with kre token revoke <id>.\n\nExample:\n  kre logout --context staging',
    )
    .action(
      cli.action<[], GlobalOptions>(async (options) => {
        const { name, context } = await cli.selected(options);
        if (!context?.credentials) {
          cli.print(options, { context: name, signedOut: false }, () => [
            `context "${name}" was not signed in`,
          ]);
          return EXIT.ok;
        }
        if (context.credentials.type === 'session') {
          // Best effort: the local credentials go even if the server cannot be reached.
          await new ApiClient(context.api, context.credentials).logout().catch(() => undefined);
        }
        await cli.store.update((config) => {
          const entry = config.contexts[name];
          if (entry) delete entry.credentials;
        });
        cli.print(options, { context: name, signedOut: true }, () => [
          `signed out of ${context.api} (context "${name}")`,
        ]);
      }),
    );

  program
    .command('whoami')
    .description('who the current credentials belong to, on which API and context')
    .addHelpText('after', '\nExample:\n  kre whoami --json')
    .action(
      cli.action<[], GlobalOptions>(async (options) => {
        const { name, context } = await cli.selected(options);
        const client = await cli.client(options);
        const { me } = await client.graphql<{ me: Me }>(ME);
        const auth = cli.env.token ? 'token (KRE_TOKEN)' : (context?.credentials?.type ?? 'none');
        cli.print(options, { ...me, api: client.api, context: name, auth }, () => [
          `${me.email} (${me.platformRole === 'ADMIN' ? 'platform admin' : 'user'}) on ${client.api}, context "${name}", ${auth}`,
        ]);
      }),
    );

  const context = program
    .command('context')
    .description('named contexts: one KRE installation and credentials each');
  context
    .command('list')
    .description('every context; * marks the current one')
    .action(
      cli.action<[], GlobalOptions>(async (options) => {
        const config = await cli.store.load();
        const rows = Object.entries(config.contexts).map(([name, c]) => ({
          name,
          current: name === config.currentContext,
          api: c.api,
          email: c.email ?? null,
          auth: c.credentials?.type ?? null,
        }));
        cli.print(options, rows, () =>
          table(
            ['CURRENT', 'NAME', 'API', 'USER', 'AUTH'],
            rows.map((r) => [r.current ? '*' : '', r.name, r.api, r.email, r.auth ?? 'signed out']),
          ),
        );
      }),
    );
  context
    .command('use <name>')
    .description('make <name> the current context')
    .addHelpText('after', '\nExample:\n  kre context use staging')
    .action(
      cli.action<[string], GlobalOptions>(async (options, name) => {
        checkContextName(name);
        await cli.store.update((config) => {
          if (!config.contexts[name]) {
            throw new CliError(
              `no context "${name}" (known: ${Object.keys(config.contexts).join(', ') || 'none'}): create it with kre login --context ${name}`,
              EXIT.notFound,
            );
          }
          config.currentContext = name;
        });
        cli.print(options, { currentContext: name }, () => [`current context: ${name}`]);
      }),
    );
  context
    .command('delete <name>')
    .description('forget a context and its credentials')
    .action(
      cli.action<[string], GlobalOptions>(async (options, name) => {
        await cli.store.update((config) => {
          if (!config.contexts[name]) throw new CliError(`no context "${name}"`, EXIT.notFound);
          delete config.contexts[name];
          if (config.currentContext === name) delete config.currentContext;
        });
        cli.print(options, { deleted: name }, () => [`deleted context ${name}`]);
      }),
    );
}

/** The token for `kre login --token`: KRE_TOKEN, else piped stdin, else a hidden prompt. */
async function readToken(cli: Cli, options: GlobalOptions): Promise<string> {
  let token = cli.env.token;
  if (!token && !cli.io.stdinIsTty) token = (await cli.io.readStdin()).trim();
  if (!token && cli.canPrompt(options))
    token = await cli.io.prompt('API token: ', { hidden: true });
  if (!token) {
    throw new CliError(
      'no API token: set KRE_TOKEN, pipe it on stdin, or run kre login --token on a terminal',
      EXIT.usage,
    );
  }
  return token;
}
