import { AsyncLocalStorage } from 'node:async_hooks';

/** Set while user code (a handler, `init`, the module's top level) runs. */
export interface UserCodeScope {
  requestId?: string;
}

export type CapturedStream = 'STDOUT' | 'STDERR';
export type CaptureSink = (line: string, stream: CapturedStream, requestId?: string) => void;

const scope = new AsyncLocalStorage<UserCodeScope>();
const MAX_PENDING = 1_000;
let sink: CaptureSink | undefined;
let pending: [string, CapturedStream, string | undefined][] = [];
let installed = false;
let rawStdout: (text: string) => void = (text) => void process.stdout.write(text);
let masker: { readonly empty: boolean; mask(text: string): string } | undefined;

/** Masks the version's config values in everything written to stdout and stderr from now on. */
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
 * written by user code (inside `runAsUserCode`) also go to the sink as log records. Lines
 * written before a sink is attached wait (at most MAX_PENDING).
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
      if (store) capture(text, name, store.requestId);
      return original(text, ...rest);
    };
  }
}

function capture(chunk: unknown, stream: CapturedStream, requestId?: string): void {
  const text =
    typeof chunk === 'string'
      ? chunk
      : chunk instanceof Uint8Array
        ? Buffer.from(chunk).toString()
        : '';
  for (const line of text.split('\n')) {
    const trimmed = line.replace(/\r$/, '');
    if (!trimmed.trim()) continue;
    if (sink) sink(trimmed, stream, requestId);
    else if (pending.length < MAX_PENDING) pending.push([trimmed, stream, requestId]);
  }
}

/** Where captured lines go from now on (earlier lines are delivered first). */
export function attachCaptureSink(next: CaptureSink): void {
  sink = next;
  const earlier = pending;
  pending = [];
  for (const [line, stream, requestId] of earlier) next(line, stream, requestId);
}

/** Stops forwarding captured lines (shutdown). */
export function detachCaptureSink(): void {
  sink = undefined;
}
