import type { Command } from 'commander';
import { ApiClient, type CliLoginGrant } from '../cli/api-client.js';
import type { Cli, GlobalOptions } from '../cli/cli.js';
import { checkContextName, type Credentials } from '../cli/config-store.js';
import { CliError, EXIT } from '../cli/exit-codes.js';
import { table } from '../cli/io.js';
import { parseDuration } from '../cli/wait.js';

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
  wait?: boolean;
  timeout: string;
}

/** A signed-in session as the API handed it out (the sign-in link's verify, or a grant's poll). */
interface Session {
  cookie: string;
  expiresAt?: string;
  user: { id: string; email: string };
}

export function registerAuthCommands(program: Command, cli: Cli): void {
  program
    .command('login')
    .description('sign in to a KRE installation and keep the credentials in the current context')
    .option(
      '--email <address>',
      'mail a sign-in link to this address: approve this command in the browser, or paste the link',
    )
    .option(
      '--link <link>',
      'finish a sign-in with the mailed link (…/signin#… or …/cli-login?token=…)',
    )
    .option('--token', 'use an API token: from KRE_TOKEN, else stdin, else a prompt')
    .option('--wait', 'with --email off a terminal: wait for the approval in a browser')
    .option('--timeout <duration>', 'how long the approval may take (the request then ends)', '10m')
    .addHelpText(
      'after',
      `
The API is --api, KRE_API, the context's, or ${DEFAULT_API}. Credentials are kept in the user's
config dir (file mode 0600), under the context (--context, default "default"), which becomes the
current one.

With --email on a terminal, kre shows a code and waits: open the mailed link in a browser, check
whose account it names, and type the code there (or paste the link at the prompt). Off a terminal
it only mails a link for --link, unless --wait says to wait for the browser's approval (the code
is then printed on stderr).

Examples:
  kre login --api https://kre.example.com --email ada@example.com   # a code; approve in the browser
  kre login --email ada@example.com --wait --timeout 5m   # the same in a script
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
          let signedIn: Session;
          const timeoutMs = parseDuration(options.timeout);
          if (options.link) {
            signedIn = await new ApiClient(api).verifySignInLink(linkToken(options.link));
          } else if (cli.canPrompt(options) || options.wait) {
            signedIn = await approvedInBrowser(cli, options, api, options.email!, timeoutMs);
          } else {
            await new ApiClient(api).requestSignInLink(options.email!);
            cli.print(options, { sent: true, email: options.email, api, context: name }, () => [
              `a sign-in link is on its way to ${options.email} (if that address may sign in).`,
              `finish with: kre login --link '<the link from the mail>'${options.context ? ` --context ${name}` : ''}`,
            ]);
            return EXIT.ok;
          }
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

/**
 * `kre login --email` approved in a browser: starts a grant that lives as long as `timeoutMs`,
 * shows its code, and polls until it is approved. On a terminal the mailed link may be pasted
 * instead (whichever comes first wins; the grant then simply expires).
 */
async function approvedInBrowser(
  cli: Cli,
  options: LoginOptions,
  api: string,
  email: string,
  timeoutMs: number,
): Promise<Session> {
  const client = new ApiClient(api);
  const grant = await client.startCliLogin(email, Math.max(2, Math.ceil(timeoutMs / 1000)));
  cli.io.err(`a sign-in link is on its way to ${email} (if that address may sign in).`);
  cli.io.err(
    `open it in a browser, check that it names your account, and enter this code: ${grant.userCode}`,
  );
  if (!cli.canPrompt(options)) {
    cli.io.err(`waiting for the approval until ${grant.expiresAt} …`);
    return await pollGrant(client, grant, timeoutMs);
  }
  const stop = new AbortController();
  const pasted = cli.io
    .prompt('(or paste the link from the mail here) ', { signal: stop.signal })
    .then(async (link) => client.verifySignInLink(linkToken(link)));
  const approved = pollGrant(client, grant, timeoutMs, stop.signal);
  try {
    return await Promise.race([pasted, approved]);
  } finally {
    stop.abort(new Error('finished'));
    // The loser's rejection (aborted) is expected: keep it from surfacing as unhandled.
    pasted.catch(() => undefined);
    approved.catch(() => undefined);
  }
}

/** Polls a grant at its interval (slower when told to) until approved, refused or out of time. */
async function pollGrant(
  client: ApiClient,
  grant: CliLoginGrant,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Session> {
  const deadline = Date.now() + timeoutMs;
  let interval = grant.interval * 1000;
  for (;;) {
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(interval, Math.max(0, deadline - Date.now()))),
    );
    if (signal?.aborted) throw signal.reason as Error;
    try {
      const answer = await client.pollCliLogin(grant.deviceCode);
      if (answer.status === 'approved') {
        return { cookie: answer.cookie, expiresAt: answer.expiresAt, user: answer.user };
      }
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      // The grant lives as long as --timeout from the server's clock, so near the end "gone"
      // means it ran out.
      if (error.code === 'INVALID_OR_EXPIRED_LINK' && Date.now() >= deadline - interval - 1000)
        throw timedOut(timeoutMs);
      if (error.code !== 'SLOW_DOWN') throw error;
      interval += 1000;
    }
    if (Date.now() >= deadline) throw timedOut(timeoutMs);
  }
}

function timedOut(timeoutMs: number): CliError {
  return new CliError(
    `nobody approved the sign-in within ${Math.round(timeoutMs / 1000)}s (--timeout), and the request has ended: run kre login again`,
    EXIT.timeout,
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
