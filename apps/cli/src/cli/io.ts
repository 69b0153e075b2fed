import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { CliError, EXIT } from './exit-codes.js';

/** Where a command reads and writes: the terminal in `kre`, collected lines in unit tests. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Both stdin and stderr are terminals: prompting is allowed. */
  readonly interactive: boolean;
  /**
   * Asks on the terminal (input hidden when `hidden`); refused when not interactive. An aborted
   * `signal` closes the question and rejects with the signal's reason.
   */
  prompt(question: string, options?: { hidden?: boolean; signal?: AbortSignal }): Promise<string>;
  /** All of stdin (for `kre login --token < file`). */
  readStdin(): Promise<string>;
  /** stdin is a terminal (nothing piped in). */
  readonly stdinIsTty: boolean;
  /** Colour and progress lines are for terminals only (and never with NO_COLOR). */
  readonly colour: boolean;
  /** Rewrites one status line on stderr (a progress bar); absent off a terminal. */
  status?: (text: string) => void;
}

/** The process's terminal. */
export function terminalIo(noColor: boolean): Io {
  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
  return {
    out: (line) => console.log(line),
    err: (line) => console.error(line),
    interactive,
    stdinIsTty: Boolean(process.stdin.isTTY),
    colour: Boolean(process.stderr.isTTY) && !noColor,
    ...(process.stderr.isTTY
      ? { status: (text: string) => void process.stderr.write(`\r\x1b[K${text}`) }
      : {}),
    async prompt(question, options = {}) {
      if (!interactive) {
        throw new CliError(
          `${question.trim()} needs a terminal; pass it as an option instead`,
          EXIT.usage,
        );
      }
      let muted = false;
      // The prompt goes to stderr, so `kre ... > file` keeps only the result on stdout.
      const output = new Writable({
        write(chunk: Buffer, _encoding, done) {
          if (!muted) process.stderr.write(chunk);
          done();
        },
      });
      const rl = createInterface({ input: process.stdin, output, terminal: true });
      try {
        return await new Promise<string>((resolve, reject) => {
          const { signal } = options;
          if (signal?.aborted) return reject(signal.reason as Error);
          signal?.addEventListener(
            'abort',
            () => {
              process.stderr.write('\n'); // what follows starts on a line of its own
              reject(signal.reason as Error);
            },
            { once: true },
          );
          rl.question(question, (answer) => resolve(answer.trim()));
          muted = Boolean(options.hidden);
        });
      } finally {
        rl.close();
        if (options.hidden) process.stderr.write('\n');
      }
    },
    async readStdin() {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}

/** Rows as aligned columns (the header first); `-` for empty cells. */
export function table(
  header: string[],
  rows: (string | number | boolean | null | undefined)[][],
): string[] {
  const cells = [
    header,
    ...rows.map((r) => r.map((c) => (c === null || c === undefined || c === '' ? '-' : String(c)))),
  ];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}

/** `[#########-----------]  45%  1.2 MiB / 2.6 MiB` */
export function progressBar(done: number, total: number, width = 24): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(ratio * width);
  const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}%  ${mib(done)} / ${mib(total)}`;
}
