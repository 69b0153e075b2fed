import type { IssueCollector, SourcePosition } from './krt.errors.js';
import { childPath } from './manifest.loader.js';

/** A YAML mapping as loaded. */
export type Fields = Record<string, unknown>;

/** `^[a-z]([-a-z0-9]*[a-z0-9])?$` without `--`: names that derived names can be built from. */
export const RESOURCE_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** What a value is, for "must be X, not Y" messages. */
export function describe(value: unknown): string {
  if (value === null) return 'empty';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  return typeof value === 'object' ? 'a mapping' : typeof value;
}

/** Typed access to manifest fields; every problem becomes an issue at the field's path. */
export class FieldReader {
  constructor(
    readonly issues: IssueCollector,
    private readonly keyPositions: Map<string, SourcePosition>,
  ) {}

  /** A mapping, or undefined (reported unless absent and optional). */
  object(value: unknown, path: string, what: string): Fields | undefined {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      return value as Fields;
    }
    this.issues.error(path, `${what} must be a mapping of fields, not ${describe(value)}`);
    return undefined;
  }

  /** A required, non-empty string. */
  string(fields: Fields, key: string, path: string, hint: string): string | undefined {
    const at = childPath(path, key);
    const value = fields[key];
    if (value === undefined || value === null || value === '') {
      this.issues.error(at, `"${key}" is required: ${hint}`);
      return undefined;
    }
    if (typeof value !== 'string') {
      const fix = typeof value === 'number' || typeof value === 'boolean' ? ' (quote it)' : '';
      this.issues.error(at, `"${key}" must be a string, not ${describe(value)}${fix}: ${hint}`);
      return undefined;
    }
    return value;
  }

  /** An optional boolean. */
  boolean(fields: Fields, key: string, path: string, fallback: boolean): boolean {
    const value = fields[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value === 'boolean') return value;
    this.issues.error(
      childPath(path, key),
      `"${key}" must be true or false, not ${describe(value)}`,
    );
    return fallback;
  }

  /** A list; `required` reports an absent one, `nonEmpty` an empty one. */
  list(
    fields: Fields,
    key: string,
    path: string,
    rule: { required: boolean; nonEmpty: boolean; hint: string },
  ): unknown[] | undefined {
    const at = childPath(path, key);
    const value = fields[key];
    if (value === undefined || value === null) {
      if (rule.required) this.issues.error(at, `"${key}" is required: ${rule.hint}`);
      return undefined;
    }
    if (!Array.isArray(value)) {
      this.issues.error(at, `"${key}" must be a list, not ${describe(value)}: ${rule.hint}`);
      return undefined;
    }
    if (rule.nonEmpty && value.length === 0) {
      this.issues.error(at, `"${key}" must not be empty: ${rule.hint}`);
    }
    return value as unknown[];
  }

  /** A name derived names are built from: lowercase letters, digits and single hyphens. */
  resourceName(fields: Fields, key: string, path: string, what: string): string | undefined {
    const example = what === 'version' ? 'my-project-v1' : `my-${what.split(' ')[0]}`;
    const value = this.string(fields, key, path, `give the ${what} a name such as "${example}"`);
    if (value === undefined) return undefined;
    if (!isResourceName(value)) {
      this.issues.error(
        childPath(path, key),
        `"${value}" is not a valid ${what} name: use lowercase letters, digits and single hyphens, starting with a letter and not ending with a hyphen (e.g. "${example}")`,
      );
      return undefined;
    }
    return value;
  }

  /**
   * Warns about every key not in `known` (a typo would otherwise be silently ignored);
   * `reported` keys already got an error of their own.
   */
  unknownKeys(
    fields: Fields,
    path: string,
    known: readonly string[],
    reported: readonly string[] = [],
  ): void {
    for (const key of Object.keys(fields)) {
      if (known.includes(key) || reported.includes(key)) continue;
      const at = childPath(path, key);
      this.issues.warning(
        at,
        `unknown field "${key}" is ignored: remove it or fix its spelling (known: ${known.join(', ')})`,
        this.keyPositions.get(at),
      );
    }
  }
}

/** Whether `value` is a resource name (see `RESOURCE_NAME`). */
export function isResourceName(value: string): boolean {
  return RESOURCE_NAME.test(value) && !value.includes('--');
}
