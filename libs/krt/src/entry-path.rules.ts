/** A path inside the KRT, normalised, or the reason it is refused. */
export type CheckedPath =
  { ok: true; path: string; trailingSlash: boolean } | { ok: false; reason: string };

// Control characters (C0, DEL, C1) in names break terminals and logs, never legitimate.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Normalises a relative path (`./a/b` → `a/b`) and refuses anything that could leave the KRT
 * root or be read two ways: absolute paths, `..`, `.` and empty segments, backslashes,
 * invalid UTF-8, control characters, and paths longer or deeper than the limits.
 * The empty string stands for the root itself (`./`).
 */
export function checkRelativePath(
  raw: string,
  limits: { maxPathBytes: number; maxPathDepth: number },
): CheckedPath {
  // tar decodes names as UTF-8, turning invalid bytes into U+FFFD; we never accept that.
  if (raw.includes('\ufffd')) {
    return { ok: false, reason: 'the name is not valid UTF-8: rename it with UTF-8 characters' };
  }
  if (CONTROL.test(raw)) {
    return { ok: false, reason: 'the name contains control characters: rename it' };
  }
  if (raw.includes('\\')) {
    return { ok: false, reason: 'the name contains a backslash: use "/" between folders' };
  }
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) {
    return { ok: false, reason: 'absolute paths are not allowed: make the path relative' };
  }
  if (Buffer.byteLength(raw, 'utf8') > limits.maxPathBytes) {
    return {
      ok: false,
      reason: `the path is longer than ${limits.maxPathBytes} bytes: shorten it`,
    };
  }
  let path = raw;
  while (path.startsWith('./')) path = path.slice(2);
  if (path === '.' || path === '') return { ok: true, path: '', trailingSlash: true };
  const trailingSlash = path.endsWith('/');
  if (trailingSlash) path = path.slice(0, -1);
  const segments = path.split('/');
  if (segments.includes('..')) {
    return { ok: false, reason: 'the path goes up with "..": keep every path inside the KRT' };
  }
  if (segments.includes('.') || segments.includes('')) {
    return { ok: false, reason: 'the path has empty or "." segments: write it as a/b/c' };
  }
  if (segments.length > limits.maxPathDepth) {
    return {
      ok: false,
      reason: `the path is ${segments.length} levels deep; the limit is ${limits.maxPathDepth}: flatten the folders`,
    };
  }
  return { ok: true, path, trailingSlash };
}

/** `archive["a/b"]`: the issue path of an archive entry (quoted, so odd names stay readable). */
export function entryIssuePath(rawPath: string): string {
  return `archive[${JSON.stringify(rawPath)}]`;
}
