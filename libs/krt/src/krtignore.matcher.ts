/** Patterns never packed, before `.krtignore` is applied. */
export const DEFAULT_IGNORES = ['.git/', 'node_modules/', '*.krt', '.DS_Store'];

interface Rule {
  negate: boolean;
  dirOnly: boolean;
  /** Matched against the whole relative path (anchored) or the last segment. */
  anchored: boolean;
  regex: RegExp;
}

/**
 * `.krtignore`: gitignore-style patterns (`#` comments, `!` negation, trailing `/` for folders,
 * `*`, `?`, `[...]`, `**`); a pattern with a `/` is relative to the project root, one without
 * matches a name at any depth. The last matching pattern wins; an ignored folder is skipped
 * whole, as git does.
 */
export class KrtIgnore {
  private constructor(private readonly rules: readonly Rule[]) {}

  /** Parses `.krtignore` text (after the defaults). */
  static parse(text = '', defaults: readonly string[] = DEFAULT_IGNORES): KrtIgnore {
    const lines = [...defaults, ...text.split(/\r?\n/)];
    return new KrtIgnore(lines.map(parseRule).filter((r): r is Rule => r !== undefined));
  }

  /** Whether `path` (relative, `/`-separated) is ignored. */
  ignores(path: string, isDir: boolean): boolean {
    const base = path.slice(path.lastIndexOf('/') + 1);
    let ignored = false;
    for (const rule of this.rules) {
      if (rule.dirOnly && !isDir) continue;
      if (rule.regex.test(rule.anchored ? path : base)) ignored = !rule.negate;
    }
    return ignored;
  }
}

function parseRule(line: string): Rule | undefined {
  let pattern = line.replace(/(?<!\\)\s+$/, '');
  if (!pattern || pattern.startsWith('#')) return undefined;
  const negate = pattern.startsWith('!');
  if (negate) pattern = pattern.slice(1);
  if (pattern.startsWith('\\#') || pattern.startsWith('\\!')) pattern = pattern.slice(1);
  const dirOnly = pattern.endsWith('/');
  if (dirOnly) pattern = pattern.replace(/\/+$/, '');
  const anchored = pattern.includes('/');
  pattern = pattern.replace(/^\/+/, '');
  if (!pattern) return undefined;
  return { negate, dirOnly, anchored, regex: globToRegExp(pattern) };
}

/** Translates one glob to an anchored regular expression (no `/` crossing except `**`). */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      const atSegmentStart = i === 0 || glob[i - 1] === '/';
      if (glob[i + 1] === '*' && atSegmentStart && (glob[i + 2] === '/' || i + 2 === glob.length)) {
        // `**/` is zero or more folders; a trailing `**` is everything below.
        re += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
        i += glob[i + 2] === '/' ? 2 : 1;
      } else {
        while (glob[i + 1] === '*') i += 1;
        re += '[^/]*';
      }
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end === -1) {
        re += '\\[';
      } else {
        let set = glob.slice(i + 1, end);
        const negated = set.startsWith('!') || set.startsWith('^');
        if (negated) set = set.slice(1);
        re += `[${negated ? '^/' : ''}${set.replace(/[\\\]^]/g, '\\$&')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) {
      i += 1;
      re += escapeChar(glob[i]);
    } else {
      re += escapeChar(c);
    }
  }
  return new RegExp(`^${re}$`);
}

function escapeChar(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}
