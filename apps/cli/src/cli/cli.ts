import type { Command } from 'commander';
import { ApiClient, type RemoteIssue } from './api-client.js';
import type { CliEnv } from './cli.env.js';
import {
  ConfigStore,
  DEFAULT_CONTEXT,
  checkContextName,
  type CliConfig,
  type Context,
} from './config-store.js';
import { CliError, EXIT } from './exit-codes.js';
import type { Io } from './io.js';

/** The options every command takes (declared once, on the program). */
export interface GlobalOptions {
  api?: string;
  context?: string;
  json?: boolean;
  /** false with --no-input: never prompt. */
  input?: boolean;
}

/** One run of `kre`: the environment, the terminal and the config file. */
export class Cli {
  readonly store: ConfigStore;

  constructor(
    readonly env: CliEnv,
    readonly io: Io,
  ) {
    this.store = new ConfigStore(env.configDir);
  }

  /** The context a command uses: --context, else KRE_CONTEXT, else the current one. */
  async selected(
    options: GlobalOptions,
  ): Promise<{ name: string; context?: Context; config: CliConfig }> {
    const config = await this.store.load();
    const name = checkContextName(
      options.context ?? this.env.context ?? config.currentContext ?? DEFAULT_CONTEXT,
    );
    return { name, context: config.contexts[name], config };
  }

  /** The API URL: --api, else KRE_API, else the context's. */
  apiOf(options: GlobalOptions, context?: Context): string | undefined {
    return options.api ?? this.env.api ?? context?.api;
  }

  /** A client with credentials (KRE_TOKEN wins over the context's); refuses when signed out. */
  async client(options: GlobalOptions): Promise<ApiClient> {
    const { name, context } = await this.selected(options);
    const api = this.apiOf(options, context);
    if (!api) {
      throw new CliError(
        `not signed in (context "${name}" has no API): kre login --api <url> --email <address>, or --token`,
        EXIT.unauthenticated,
      );
    }
    const credentials = this.env.token
      ? { type: 'token' as const, token: this.env.token }
      : context?.credentials;
    if (!credentials) {
      throw new CliError(
        `not signed in to ${api} (context "${name}"): kre login --email <address>, or kre login --token`,
        EXIT.unauthenticated,
      );
    }
    if (
      credentials.type === 'session' &&
      credentials.expiresAt &&
      Date.parse(credentials.expiresAt) <= Date.now()
    ) {
      throw new CliError(
        `the session of context "${name}" expired at ${credentials.expiresAt}: kre login --email ${context?.email ?? '<address>'}`,
        EXIT.unauthenticated,
      );
    }
    return new ApiClient(api, credentials);
  }

  /** Prompting is allowed: on a terminal, and not --no-input. */
  canPrompt(options: GlobalOptions): boolean {
    return this.io.interactive && options.input !== false;
  }

  /** JSON on stdout with --json, else the human lines. */
  print(options: GlobalOptions, data: unknown, human: () => string[]): void {
    if (options.json) this.io.out(JSON.stringify(data, null, 2));
    else human().forEach((line) => this.io.out(line));
  }

  /** Progress on stderr, for people only (never with --json, never off a terminal). */
  progress(options: GlobalOptions, line: string): void {
    if (!options.json) this.io.err(line);
  }

  /** Prints an error on stderr (JSON with --json) and returns its exit code. */
  fail(options: GlobalOptions, error: unknown): number {
    const e =
      error instanceof CliError
        ? error
        : new CliError(error instanceof Error ? error.message : String(error), EXIT.failed);
    const issues = Array.isArray(e.details.errors) ? (e.details.errors as RemoteIssue[]) : [];
    if (options.json) {
      this.io.err(
        JSON.stringify({
          error: { code: e.code, message: e.message, exitCode: e.exitCode, ...e.details },
        }),
      );
    } else {
      this.io.err(`kre: ${e.message}`);
      for (const issue of issues) {
        const where =
          issue.line === undefined ? '' : ` (line ${issue.line}, column ${issue.column ?? 1})`;
        const severity = issue.severity === 'warning' ? 'warning' : 'error  ';
        this.io.err(
          `  ${severity} ${issue.path || (issue as { field?: string }).field || '(manifest)'}${where}: ${issue.message}`,
        );
      }
    }
    return e.exitCode;
  }

  /**
   * Wraps a command's action: options merged with the global ones, every failure printed
   * (never a stack trace) and turned into its exit code.
   */
  action<A extends unknown[], O extends object>(
    run: (options: GlobalOptions & O, ...args: A) => Promise<number | void>,
  ): (...args: unknown[]) => Promise<void> {
    return async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const options = command.optsWithGlobals<GlobalOptions & O>();
      const positional = args.slice(0, -2) as A;
      try {
        // Checked before anything else, so a missing runtime is a usage error even when signed out.
        if (
          command.options.some((o) => o.attributeName() === 'runtime') &&
          !(options as { runtime?: string }).runtime
        ) {
          runtimeOf({});
        }
        process.exitCode = (await run(options, ...positional)) ?? EXIT.ok;
      } catch (error) {
        process.exitCode = this.fail(options, error);
      }
    };
  }
}

/** Required `-r, --runtime <id>`. */
export function runtimeOf(options: { runtime?: string }): string {
  if (!options.runtime) {
    throw new CliError(
      'which runtime? Pass -r, --runtime <id> (kre runtime list shows them)',
      EXIT.usage,
    );
  }
  return options.runtime;
}
