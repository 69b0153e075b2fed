/**
 * The exit codes of every `kre` command: stable, documented in docs/cli.md. Scripts may rely on
 * them; add new ones at the end, never renumber.
 */
export const EXIT = {
  /** It worked. */
  ok: 0,
  /** Something else went wrong (the server failed, an unexpected answer); the message says what. */
  failed: 1,
  /** Wrong or missing arguments or options, or input needed while not on a terminal. */
  usage: 2,
  /** The input was refused: an invalid KRT (every error listed), a bad value, an unknown key. */
  invalid: 3,
  /** Not signed in, or the session or token is no longer valid: `kre login`. */
  unauthenticated: 4,
  /** Signed in but not allowed (a role too low; a token where a session is needed). */
  forbidden: 5,
  /** No such runtime, version, key or token (or not one you may see). */
  notFound: 6,
  /** The thing exists already, or is not in a state that allows this (e.g. start a STARTED version). */
  conflict: 7,
  /** `--wait` followed the version or runtime into ERROR. */
  error: 8,
  /** `--wait` gave up after `--timeout`. */
  timeout: 9,
  /** The API or the gateway could not be reached. */
  unreachable: 10,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the CLI explains: its message names what to fix; `code` is the server's when known. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly code: string = codeOfExit(exitCode),
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'CliError';
  }
}

function codeOfExit(exitCode: ExitCode): string {
  const entry = Object.entries(EXIT).find(([, value]) => value === exitCode);
  return (entry?.[0] ?? 'failed').replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

/** The exit code for a server error code (GraphQL `extensions.code`, REST `code`). */
export function exitCodeOf(code: string | undefined): ExitCode {
  switch (code) {
    case 'BAD_USER_INPUT':
    case 'KRT_INVALID':
    case 'GRAPHQL_VALIDATION_FAILED':
    case 'BAD_REQUEST':
    case 'PAYLOAD_TOO_LARGE':
      return EXIT.invalid;
    case 'UNAUTHENTICATED':
    case 'INVALID_OR_EXPIRED_LINK':
      return EXIT.unauthenticated;
    case 'FORBIDDEN':
      return EXIT.forbidden;
    case 'NOT_FOUND':
      return EXIT.notFound;
    case 'CONFLICT':
    case 'INVALID_TRANSITION':
      return EXIT.conflict;
    case undefined:
    default:
      return EXIT.failed;
  }
}
