import {
  constructFromEvents,
  EVENT_ID,
  getScalarValue,
  JSON_SCHEMA,
  nullCoreTag,
  nullJsonTag,
  parseEvents,
  SCALAR_STYLE,
  Schema,
  YAMLException,
  type Event,
} from 'js-yaml';
import type { IssueCollector, SourcePosition } from './krt.errors.js';

/** The parsed manifest plus where each field path sits in the source. */
export interface LoadedManifest {
  value: Record<string, unknown>;
  /** Field path → position of its value. */
  positions: Map<string, SourcePosition>;
  /** Field path → position of its key (for "unknown field" warnings). */
  keyPositions: Map<string, SourcePosition>;
}

const MAX_DEPTH = 64;
// Explicit tags that still construct plain JSON values under the JSON schema.
const JSON_TAGS = new Set(
  ['str', 'int', 'float', 'bool', 'null', 'seq', 'map'].flatMap((t) => [
    `!!${t}`,
    `!<tag:yaml.org,2002:${t}>`,
  ]),
);
/**
 * JSON's scalars, except that an empty value, `~`, `Null` and `NULL` are null as well, as in
 * YAML 1.2's core schema and in the Go YAML library KRE read manifests with: KRE's own KRTs
 * leave sections empty (`config:\n  variables:`), which the strict JSON schema reads as "".
 */
const MANIFEST_SCHEMA = new Schema([
  ...JSON_SCHEMA.tags.filter((tag) => tag !== nullJsonTag),
  nullCoreTag,
]);
// Keys that reach or replace an object's prototype when assigned to `{}`.
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** `a.b`, `a[0]`, `a["odd key"]`: the path notation of every issue. */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return parent ? `${parent}.${key}` : key;
  return `${parent}[${JSON.stringify(key)}]`;
}

/** `a.b[0]` → `a.b` → `a` → `''`. */
export function parentPath(path: string): string {
  return path.replace(
    /(\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\]|\["(?:[^"\\]|\\.)*"\]|^[A-Za-z_][A-Za-z0-9_-]*)$/,
    '',
  );
}

/** Position of a path's value, or of its nearest ancestor (for fields that are missing). */
export function positionLookup(positions: Map<string, SourcePosition>) {
  return (path: string): SourcePosition | undefined => {
    for (let at = path, guard = 0; guard < 64; guard++) {
      const found = positions.get(at);
      if (found || at === '') return found;
      const up = parentPath(at);
      if (up === at) return undefined;
      at = up;
    }
    return undefined;
  };
}

/**
 * Parses the manifest as ONE JSON-compatible YAML document, refusing what could surprise us:
 * anchors and aliases (billion laughs), merge keys, non-JSON tags, prototype keys, duplicate
 * keys, invalid UTF-8 and documents over the size limit. Reports every problem it sees.
 */
export function loadManifest(
  bytes: Buffer,
  file: string,
  maxBytes: number,
  issues: IssueCollector,
): LoadedManifest | undefined {
  if (bytes.length > maxBytes) {
    issues.error(
      file,
      `the manifest is ${bytes.length} bytes; the limit is ${maxBytes}: shorten it`,
    );
    return undefined;
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    issues.error(file, 'the manifest is not valid UTF-8: save it as UTF-8');
    return undefined;
  }
  const where = new LineIndex(text);
  let events: Event[];
  try {
    events = parseEvents(text, { filename: file, maxDepth: MAX_DEPTH });
  } catch (error) {
    reportYamlError(error, file, issues, where);
    return undefined;
  }
  const walker = new EventWalker(text, file, where, issues);
  if (!walker.walk(events)) return undefined;
  let documents: unknown[];
  try {
    documents = constructFromEvents(events, {
      source: text,
      schema: MANIFEST_SCHEMA,
      maxAliases: 0,
    });
  } catch (error) {
    reportYamlError(error, file, issues, where);
    return undefined;
  }
  const value = documents[0];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    issues.error(file, 'the manifest must be a mapping of fields (version, description, ...)');
    return undefined;
  }
  return {
    value: value as Record<string, unknown>,
    positions: walker.positions,
    keyPositions: walker.keyPositions,
  };
}

function reportYamlError(
  error: unknown,
  file: string,
  issues: IssueCollector,
  where: LineIndex,
): void {
  if (error instanceof YAMLException) {
    const mark = error.mark;
    const position = mark ? { line: mark.line + 1, column: mark.column + 1 } : undefined;
    issues.error(file, `YAML syntax error: ${error.reason}: fix the manifest there`, position);
    return;
  }
  // js-yaml documents that it may throw other errors on hostile input; keep them ours.
  const detail = error instanceof Error ? error.message : String(error);
  issues.error(file, `the manifest could not be read as YAML (${detail})`, where.at(0));
}

/** Offset → 1-based line and column. */
class LineIndex {
  private readonly starts: number[] = [0];

  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }

  at(offset: number): SourcePosition {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.starts[lo] + 1 };
  }
}

interface Frame {
  kind: 'map' | 'seq';
  path: string;
  index: number;
  /** Map: the key waiting for its value (undefined while a key is expected). */
  key?: string;
  keys: Set<string>;
  /** Inside a complex (non-scalar) key: no paths are recorded. */
  opaque: boolean;
  /** This collection is itself a mapping key: closing it leaves the parent awaiting the value. */
  isKeyFrame: boolean;
}

const COMPLEX_KEY = '\u0000complex';

/** Walks the parser events once: records positions and refuses non-JSON constructs. */
class EventWalker {
  readonly positions = new Map<string, SourcePosition>();
  readonly keyPositions = new Map<string, SourcePosition>();
  private readonly stack: Frame[] = [];
  private documents = 0;
  private ok = true;

  constructor(
    private readonly text: string,
    private readonly file: string,
    private readonly where: LineIndex,
    private readonly issues: IssueCollector,
  ) {}

  walk(events: readonly Event[]): boolean {
    for (const event of events) {
      switch (event.type) {
        case EVENT_ID.DOCUMENT:
          this.documents += 1;
          if (this.documents === 2) {
            this.fail(this.file, 'the manifest holds several YAML documents (---): keep one');
          }
          break;
        case EVENT_ID.POP:
          this.pop();
          break;
        case EVENT_ID.ALIAS:
          this.fail(
            this.slot().path,
            'YAML aliases (*name) are not allowed: write the value out in full',
            event.anchorStart - 1,
          );
          this.consumed();
          break;
        case EVENT_ID.SCALAR:
        case EVENT_ID.MAPPING:
        case EVENT_ID.SEQUENCE:
          this.node(event);
          break;
      }
    }
    if (this.documents === 0) this.fail(this.file, 'the manifest is empty: write the KRT fields');
    return this.ok;
  }

  private node(event: Exclude<Event, { type: 1 | 5 | 6 }>): void {
    const start = event.type === EVENT_ID.SCALAR ? event.valueStart : event.start;
    const slot = this.slot();
    if (event.anchorStart >= 0) {
      this.fail(
        slot.path,
        'YAML anchors (&name) are not allowed: write every value out in full',
        event.anchorStart - 1,
      );
    }
    if (event.tagStart >= 0) {
      const tag = this.text.slice(event.tagStart, event.tagEnd);
      if (!JSON_TAGS.has(tag)) {
        this.fail(
          slot.path,
          `the YAML tag ${tag} is not allowed: use plain strings, numbers, booleans, lists and mappings`,
          event.tagStart,
        );
      }
    }
    if (slot.isKey) {
      this.key(event, start);
      if (event.type !== EVENT_ID.SCALAR) this.push(event.type, slot.path, true, true);
      return;
    }
    if (!slot.opaque) this.positions.set(slot.path, this.where.at(start));
    if (event.type === EVENT_ID.SCALAR) {
      this.consumed();
    } else {
      this.push(event.type, slot.path, slot.opaque, false);
    }
  }

  private key(event: Exclude<Event, { type: 1 | 5 | 6 }>, start: number): void {
    const frame = this.stack[this.stack.length - 1];
    if (event.type !== EVENT_ID.SCALAR) {
      this.fail(frame.path, 'mapping keys must be plain strings', start);
      frame.key = COMPLEX_KEY;
      return;
    }
    const key = getScalarValue(this.text, event);
    frame.key = key;
    if (frame.opaque) return;
    const path = childPath(frame.path, key);
    if (key === '<<' && event.style === SCALAR_STYLE.PLAIN) {
      this.fail(path, 'YAML merge keys (<<) are not allowed: write the fields out in full', start);
    } else if (FORBIDDEN_KEYS.has(key)) {
      this.fail(path, `the key "${key}" is not allowed: remove it`, start);
    } else if (frame.keys.has(key)) {
      this.fail(path, `the key "${key}" appears twice: keep one`, start);
    }
    frame.keys.add(key);
    this.keyPositions.set(path, this.where.at(start));
  }

  /** Where the next node goes: a key, a map value or a list item. */
  private slot(): { path: string; isKey: boolean; opaque: boolean } {
    const frame = this.stack[this.stack.length - 1];
    if (!frame) return { path: '', isKey: false, opaque: false };
    if (frame.kind === 'seq') {
      return { path: childPath(frame.path, frame.index), isKey: false, opaque: frame.opaque };
    }
    if (frame.key === undefined) return { path: frame.path, isKey: true, opaque: frame.opaque };
    const opaque = frame.opaque || frame.key === COMPLEX_KEY;
    return { path: opaque ? frame.path : childPath(frame.path, frame.key), isKey: false, opaque };
  }

  private push(type: 2 | 3, path: string, opaque: boolean, isKeyFrame: boolean): void {
    const kind = type === EVENT_ID.MAPPING ? 'map' : 'seq';
    this.stack.push({ kind, path, index: 0, keys: new Set(), opaque, isKeyFrame });
  }

  private pop(): void {
    const frame = this.stack.pop();
    // A collection used as a key is followed by its value; any other fills its slot.
    if (frame && !frame.isKeyFrame) this.consumed();
  }

  /** A value was completed: advance the enclosing collection. */
  private consumed(): void {
    const frame = this.stack[this.stack.length - 1];
    if (!frame) return;
    if (frame.kind === 'seq') frame.index += 1;
    else frame.key = undefined;
  }

  private fail(path: string, message: string, offset?: number): void {
    this.ok = false;
    this.issues.error(path, message, offset === undefined ? undefined : this.where.at(offset));
  }
}
