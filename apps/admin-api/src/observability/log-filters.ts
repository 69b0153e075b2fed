import type { LogLevel } from './logs.model.js';

/** What a log query or the live tail selects (dates aside). */
export interface LogMatch {
  search?: string;
  levels?: readonly LogLevel[];
  versionNames?: readonly string[];
  workflowNames?: readonly string[];
  nodeNames?: readonly string[];
  requestId?: string;
}

/** A log line as stored (mongo-writer's document) and as the live tail decodes it. */
export interface LogLine {
  time: Date;
  level: string;
  message: string;
  requestId?: string;
  source: string;
  origin: { version: string; workflow?: string; node: string; replica: string };
  fields?: Record<string, unknown>;
}

/** `text` as a regular expression that matches it literally (PCRE, Go's RE2 and JS agree on these). */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const present = <T>(list: readonly T[] | undefined): list is readonly T[] =>
  list !== undefined && list.length > 0;

/**
 * One value as equality, several as `$in`: FerretDB pushes an equality on a top-level field down
 * to its backend (on PostgreSQL, `level: 'ERROR'` is answered there; `$in` never is), and MongoDB
 * answers both from the same index.
 */
const oneOrIn = (values: readonly string[]) =>
  values.length === 1 ? values[0] : { $in: [...values] };

/**
 * The database filter of `match`: equality and `$in` only, and a case-insensitive `$regex` for
 * `search` (FerretDB has no `$text`), so MongoDB 7 and FerretDB answer the same.
 */
export function logsQuery(match: LogMatch): Record<string, unknown> {
  const query: Record<string, unknown> = {};
  if (match.search) query.message = { $regex: escapeRegex(match.search), $options: 'i' };
  if (present(match.levels)) query.level = oneOrIn(match.levels);
  if (present(match.versionNames)) query['origin.version'] = oneOrIn(match.versionNames);
  if (present(match.workflowNames)) query['origin.workflow'] = oneOrIn(match.workflowNames);
  if (present(match.nodeNames)) query['origin.node'] = oneOrIn(match.nodeNames);
  if (match.requestId) query.requestId = match.requestId;
  return query;
}

/** The same selection as `logsQuery`, for one line in memory (the live tail). */
export function logMatches(match: LogMatch, line: LogLine): boolean {
  if (match.search && !line.message.toLowerCase().includes(match.search.toLowerCase()))
    return false;
  if (present(match.levels) && !match.levels.includes(line.level as LogLevel)) return false;
  if (present(match.versionNames) && !match.versionNames.includes(line.origin.version))
    return false;
  if (present(match.workflowNames) && !match.workflowNames.includes(line.origin.workflow ?? ''))
    return false;
  if (present(match.nodeNames) && !match.nodeNames.includes(line.origin.node)) return false;
  if (match.requestId && line.requestId !== match.requestId) return false;
  return true;
}
