import { homedir } from 'node:os';
import { join } from 'node:path';

/** What the CLI reads from the environment: read here once, nowhere else. */
export interface CliEnv {
  /** KRE_API: the admin API's URL (overrides the context's). */
  api?: string;
  /** KRE_CONTEXT: the context to use (overrides the current one). */
  context?: string;
  /** KRE_TOKEN: an API token (overrides the context's credentials; `kre login --token` reads it). */
  token?: string;
  /** KRE_INVOCATION_KEY: the key `kre call` sends to the gateway. */
  invocationKey?: string;
  /** KRE_GATEWAY: the gateway's HTTP URL for `kre call` (default: the runtime's address from the API). */
  gateway?: string;
  /** KRE_GRPC: the gateway's gRPC host:port for `kre call --grpc` (default: from the API). */
  grpc?: string;
  /** Where credentials live: KRE_CONFIG_DIR, else the user's config dir + `/kre`. */
  configDir: string;
  /** NO_COLOR set: never colour. */
  noColor: boolean;
}

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value.trim() === '' ? undefined : value.trim();

/** The user's config dir: %APPDATA% on Windows, else $XDG_CONFIG_HOME, else ~/.config. */
export function userConfigDir(
  source: NodeJS.ProcessEnv,
  platform: NodeJS.Platform = process.platform,
): string {
  if (platform === 'win32' && nonEmpty(source.APPDATA)) return join(source.APPDATA!, 'kre');
  const xdg = nonEmpty(source.XDG_CONFIG_HOME);
  return join(xdg ?? join(nonEmpty(source.HOME) ?? homedir(), '.config'), 'kre');
}

export function readCliEnv(source: NodeJS.ProcessEnv = process.env): CliEnv {
  return {
    api: nonEmpty(source.KRE_API),
    context: nonEmpty(source.KRE_CONTEXT),
    token: nonEmpty(source.KRE_TOKEN),
    invocationKey: nonEmpty(source.KRE_INVOCATION_KEY),
    gateway: nonEmpty(source.KRE_GATEWAY),
    grpc: nonEmpty(source.KRE_GRPC),
    configDir: nonEmpty(source.KRE_CONFIG_DIR) ?? userConfigDir(source),
    noColor: source.NO_COLOR !== undefined && source.NO_COLOR !== '',
  };
}
