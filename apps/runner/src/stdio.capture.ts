import { AsyncLocalStorage } from 'node:async_hooks';

export type CapturedStream = 'STDOUT' | 'STDERR';
export type CaptureSink = (line: string, stream: CapturedStream, requestId?: string) => void;

const MAX_PENDING = 1_000;

/**
 * Where one node's printed lines go: its log records (the sink its runner attaches at start).
 * Lines printed before that (the module's top level) wait, at most MAX_PENDING. One per node, so
 * nodes sharing a process (`runner shared`) each get their own lines.
 */
export class CaptureChannel {
  private sink?: CaptureSink;
  private pending: [string, CapturedStream, string | undefined][] = [];

  write(line: string, stream: CapturedStream, requestId?: string): void {
    if (this.sink) this.sink(line, stream, requestId);
    else if (this.pending.length < MAX_PENDING) this.pending.push([line, stream, requestId]);
  }

  /** Where captured lines go from now on (earlier lines are delivered first). */
  attach(next: CaptureSink): void {
    this.sink = next;
    const earlier = this.pending;
    this.pending = [];
    for (const [line, stream, requestId] of earlier) next(line, stream, requestId);
  }

  /** Stops forwarding captured lines (shutdown). */
  detach(): void {
    this.sink = undefined;
  }
}

/** Set while user code (a handler, `init`, the module's top level) runs: whose code it is. */
export interface UserCodeScope {
  capture: CaptureChannel;
  requestId?: string;
}

const scope = new AsyncLocalStorage<UserCodeScope>();
let installed = false;
let rawStdout: (text: string) => void = (text) => void process.stdout.write(text);
let masker: { readonly empty: boolean; mask(text: string): string } | undefined;

/**
 * Masks the version's config values in everything written to stdout and stderr from now on (one
 * version per process: every node of a shared process has the same config).
 */
export function maskOutput(next: { readonly empty: boolean; mask(text: string): string }): void {
  masker = next.empty ? undefined : next;
}

function masked(chunk: unknown): unknown {
  if (!masker) return chunk;
  if (typeof chunk === 'string') return masker.mask(chunk);
  if (chunk instanceof Uint8Array) return masker.mask(Buffer.from(chunk).toString());
  return chunk;
}

/** Runs `fn` as user code: what it writes to stdout/stderr becomes log records. */
export function runAsUserCode<T>(store: UserCodeScope, fn: () => T): T {
  return scope.run(store, fn);
}

/** Runs `fn` as the runner's own code even when called from a handler (no capture). */
export function runAsRunner<T>(fn: () => T): T {
  return scope.exit(fn);
}

/** Writes to the real stdout, bypassing the capture (the runner's echo of `ctx.logger`). */
export function writeRawStdout(text: string): void {
  rawStdout(text);
}

/**
 * Tees process.stdout and process.stderr: everything still reaches the terminal, and lines
 * written by user code (inside `runAsUserCode`) also go to its node's CaptureChannel.
 */
export function installStdioCapture(): void {
  if (installed) return;
  installed = true;
  for (const [stream, name] of [
    [process.stdout, 'STDOUT'],
    [process.stderr, 'STDERR'],
  ] as const) {
    const original = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    if (name === 'STDOUT') rawStdout = (text) => void original(masked(text));
    stream.write = (chunk: unknown, ...rest: unknown[]) => {
      const text = masked(chunk);
      const store = scope.getStore();
      if (store) capture(store, text, name);
      return original(text, ...rest);
    };
  }
}

function capture(store: UserCodeScope, chunk: unknown, stream: CapturedStream): void {
  const text =
    typeof chunk === 'string'
      ? chunk
      : chunk instanceof Uint8Array
        ? Buffer.from(chunk).toString()
        : '';
  for (const line of text.split('\n')) {
    const trimmed = line.replace(/\r$/, '');
    if (!trimmed.trim()) continue;
    store.capture.write(trimmed, stream, store.requestId);
  }
}
