import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Values shorter than this are not masked (`true`, `0.5`, `eu` would blot out every log). */
export const MIN_MASKED_LENGTH = 6;
/** What a masked value reads as. */
export const MASK = '***';

/**
 * Replaces a version's config values in what a workload emits (log records, captured output,
 * the output tails in version errors and node status), as CI systems mask secrets in job logs:
 * VIEWERs may read logs but not config. Each variable's value, each file's content and each line
 * of a file, when at least MIN_MASKED_LENGTH characters long; longest first, so a value that
 * contains another is masked whole.
 */
export class ConfigMasker {
  private readonly values: readonly string[];

  constructor(values: Iterable<string>) {
    const found = new Set<string>();
    for (const value of values) {
      for (const candidate of [value, ...value.split('\n').map((line) => line.trim())])
        if (candidate.length >= MIN_MASKED_LENGTH) found.add(candidate);
    }
    this.values = [...found].sort((a, b) => b.length - a.length);
  }

  /** The masker of a workload: its config variables' values and its config files' contents. */
  static ofWorkload(variables: Readonly<Record<string, string>>, filesDir?: string): ConfigMasker {
    const files: string[] = [];
    if (filesDir) {
      for (const name of safeList(filesDir)) {
        try {
          files.push(readFileSync(join(filesDir, name), 'utf8'));
        } catch {
          // unreadable: nothing of it can leak through us either
        }
      }
    }
    return new ConfigMasker([...Object.values(variables), ...files]);
  }

  get empty(): boolean {
    return this.values.length === 0;
  }

  mask(text: string): string {
    let masked = text;
    for (const value of this.values)
      if (masked.includes(value)) masked = masked.split(value).join(MASK);
    return masked;
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
