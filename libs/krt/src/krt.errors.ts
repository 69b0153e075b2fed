import { DomainError } from '@libs/core';
/** How bad one finding is: errors make the KRT invalid, warnings are reported and accepted. */
export type KrtSeverity = 'error' | 'warning';

/** One finding, located by the path of the manifest field (or `archive[...]` for an entry). */
export interface KrtIssue {
  path: string;
  message: string;
  line?: number;
  column?: number;
  severity: KrtSeverity;
}

/** The one error shape of every transport (REST 422 body, GraphQL `extensions`, `--json`). */
export interface KrtErrorBody {
  code: 'KRT_INVALID';
  message: string;
  errors: KrtIssue[];
}

/** A line and column (1-based) in the manifest. */
export interface SourcePosition {
  line: number;
  column: number;
}

/**
 * Thrown by every `@libs/krt` entry point when a KRT (or project folder) is not acceptable: a
 * domain error (`KRT_INVALID`, 422 over HTTP) whose details are the findings.
 */
export class KrtInvalidError extends DomainError {
  readonly code = 'KRT_INVALID';

  constructor(
    readonly errors: KrtIssue[],
    message = summarize(errors),
  ) {
    super(message, { errors });
  }

  /** The wire shape: exactly `{ code, message, errors }`. */
  toJSON(): KrtErrorBody {
    return { code: this.code, message: this.message, errors: this.errors.map((e) => ({ ...e })) };
  }
}

function summarize(issues: readonly KrtIssue[]): string {
  const errors = issues.filter((i) => i.severity === 'error').length;
  const warnings = issues.length - errors;
  const parts = [`${errors} error${errors === 1 ? '' : 's'}`];
  if (warnings) parts.push(`${warnings} warning${warnings === 1 ? '' : 's'}`);
  return `the KRT is invalid (${parts.join(', ')}); fix every error listed and try again`;
}

/** Where a field path sits in the manifest, when it came from one. */
export type PositionLookup = (path: string) => SourcePosition | undefined;

/** `"a", "b" and 3 more`: names for a message, bounded whatever the manifest holds. */
export function quoteList(items: Iterable<string>, max = 10): string {
  const all = [...items];
  const shown = all.slice(0, max).map((i) => JSON.stringify(i));
  return all.length > max ? `${shown.join(', ')} and ${all.length - max} more` : shown.join(', ');
}

/** Most errors reported for one KRT: enough to fix a broken file, bounded for hostile ones. */
export const MAX_REPORTED_ISSUES = 200;

/** Collects every finding of one validation, so all of them are reported at once. */
export class IssueCollector {
  private readonly list: KrtIssue[] = [];
  private readonly seen = new Set<string>();
  private dropped = 0;

  constructor(private positions: PositionLookup = () => undefined) {}

  /** Locates later findings in the manifest (once it has been parsed). */
  locate(positions: PositionLookup): void {
    this.positions = positions;
  }

  error(path: string, message: string, position?: SourcePosition): void {
    this.add('error', path, message, position);
  }

  warning(path: string, message: string, position?: SourcePosition): void {
    this.add('warning', path, message, position);
  }

  get hasErrors(): boolean {
    return this.list.some((i) => i.severity === 'error') || this.dropped > 0;
  }

  get issues(): KrtIssue[] {
    if (!this.dropped) return [...this.list];
    const more = `${this.dropped} more finding${this.dropped === 1 ? ' was' : 's were'} not listed`;
    return [...this.list, { path: '', message: `${more}: fix these first`, severity: 'error' }];
  }

  get warnings(): KrtIssue[] {
    return this.list.filter((i) => i.severity === 'warning');
  }

  /** Throws `KrtInvalidError` with everything collected (the caller knows there is an error). */
  fail(): never {
    throw new KrtInvalidError(this.issues);
  }

  /** Throws `KrtInvalidError` with everything collected when any finding is an error. */
  throwIfErrors(): void {
    if (this.hasErrors) throw new KrtInvalidError(this.issues);
  }

  private add(
    severity: KrtSeverity,
    path: string,
    message: string,
    position = this.positions(path),
  ): void {
    // The same finding can come from two places (a v1 node used by two workflows): say it once.
    const key = `${severity}\u0000${path}\u0000${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (this.list.length >= MAX_REPORTED_ISSUES) {
      this.dropped += 1;
      return;
    }
    const issue: KrtIssue = { path, message, severity };
    if (position) {
      issue.line = position.line;
      issue.column = position.column;
    }
    this.list.push(issue);
  }
}
