import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CliError, EXIT } from './exit-codes.js';

/** How a context authenticates: an API token, or a person's session cookie (`kre login --email`). */
export type Credentials =
  { type: 'token'; token: string } | { type: 'session'; cookie: string; expiresAt?: string };

/** One KRE installation and who you are there. */
export interface Context {
  api: string;
  email?: string;
  credentials?: Credentials;
}

/** The file `kre` keeps in the user's config dir (mode 0600: it holds secrets). */
export interface CliConfig {
  currentContext?: string;
  contexts: Record<string, Context>;
}

export const DEFAULT_CONTEXT = 'default';
const CONTEXT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Refuses a context name that would be awkward in a shell or a file. */
export function checkContextName(name: string): string {
  if (!CONTEXT_NAME.test(name)) {
    throw new CliError(
      `"${name}" is not a valid context name: use letters, digits, ".", "_" or "-" (at most 63)`,
      EXIT.usage,
    );
  }
  return name;
}

/** Reads and writes `<dir>/config.json`: the file 0600, its folder 0700, replaced atomically. */
export class ConfigStore {
  readonly file: string;

  constructor(readonly dir: string) {
    this.file = join(dir, 'config.json');
  }

  async load(): Promise<CliConfig> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { contexts: {} };
      throw error;
    }
    try {
      const parsed = JSON.parse(text) as Partial<CliConfig>;
      return {
        ...(typeof parsed.currentContext === 'string'
          ? { currentContext: parsed.currentContext }
          : {}),
        contexts: parsed.contexts && typeof parsed.contexts === 'object' ? parsed.contexts : {},
      };
    } catch {
      throw new CliError(
        `${this.file} is not valid JSON: fix it, or delete it and sign in again (kre login)`,
        EXIT.failed,
      );
    }
  }

  async save(config: CliConfig): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
      await chmod(tmp, 0o600); // the umask may have narrowed it; never wider than 0600
      await rename(tmp, this.file);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  }

  /** Changes the config in one read-modify-write. */
  async update<T>(change: (config: CliConfig) => T): Promise<T> {
    const config = await this.load();
    const result = change(config);
    await this.save(config);
    return result;
  }
}
