import { HandlerLoadError } from './handler-module.loader.js';
import type { HandlerModule } from './handler.model.js';
import type { RunnerEnv } from './runner.env.js';

/** A node's adaptive batching (its KRT `batch`, through KRT_BATCH_MAX_SIZE / _LATENCY_MS). */
export interface BatchSettings {
  maxSize: number;
  maxLatencyMs: number;
}

/**
 * The node's batching: the env's settings when its KRT sets `batch`; batches of one when the
 * module exports `handlerBatch` and no `handler`; none otherwise (every KRE-era module: `handler`
 * and `handlers` run one message per call, as they always did).
 * @throws HandlerLoadError when the KRT sets `batch` but the module exports no `handlerBatch`.
 */
export function batchSettingsOf(env: RunnerEnv, mod: HandlerModule): BatchSettings | undefined {
  const size = env.KRT_BATCH_MAX_SIZE;
  if (size !== undefined && !mod.handlerBatch)
    throw new HandlerLoadError(
      `${env.KRT_HANDLER_PATH}: the node's KRT sets "batch" (KRT_BATCH_MAX_SIZE=${size}), so it must export \`handlerBatch(ctx, items)\` (items: [{ctx, data}], returning one result per item); remove "batch" to run \`handler\` one message at a time`,
    );
  if (!mod.handlerBatch) return undefined;
  if (size === undefined) return mod.handler ? undefined : { maxSize: 1, maxLatencyMs: 0 };
  return { maxSize: size, maxLatencyMs: env.KRT_BATCH_MAX_LATENCY_MS ?? 0 };
}

/**
 * Messages one replica holds at once: KRT_MAX_IN_FLIGHT, and with batching at least two full
 * batches (one in the handler while the next one forms), so a `maxSize` above KRT_MAX_IN_FLIGHT
 * still fills.
 */
export function inFlightBound(env: RunnerEnv, batch: BatchSettings | undefined): number {
  return batch ? Math.max(env.KRT_MAX_IN_FLIGHT, 2 * batch.maxSize) : env.KRT_MAX_IN_FLIGHT;
}

/** The timer the batcher waits with (tests inject a manual one). */
export interface BatchTimer {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const REAL_TIMER: BatchTimer = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Collects items into batches: one is handed to `run` when it holds `maxSize` items, when
 * `maxLatencyMs` have passed since its first item, or when `flush()` is called (the runner calls
 * it when it may hold no further message, so a batch never waits for one that cannot come).
 */
export class MessageBatcher<T> {
  private items: T[] = [];
  private timer: unknown;

  constructor(
    private readonly settings: BatchSettings,
    private readonly run: (items: T[]) => void,
    private readonly clock: BatchTimer = REAL_TIMER,
  ) {}

  /** Items waiting for their batch to be handed out. */
  get waiting(): number {
    return this.items.length;
  }

  add(item: T): void {
    this.items.push(item);
    if (this.items.length >= this.settings.maxSize) this.flush();
    else if (this.items.length === 1)
      this.timer = this.clock.set(() => this.flush(), this.settings.maxLatencyMs);
  }

  flush(): void {
    if (this.timer !== undefined) this.clock.clear(this.timer);
    this.timer = undefined;
    if (this.items.length === 0) return;
    const batch = this.items;
    this.items = [];
    this.run(batch);
  }
}

/** What one item of a batch comes to: its output (or nothing), or its own error. */
export type ItemOutcome = { ok: true; value: unknown } | { ok: false; error: Error };

/**
 * Maps what `handlerBatch` returned to one outcome per item, in order: `undefined` (the handler
 * sent what it had through each item's `ctx`) is nothing for each; an array of exactly one entry
 * per item gives each its entry (an `Error` entry fails that item alone). Anything else fails
 * every item of the batch with a message saying what to return: no item gets another's result.
 */
export function batchOutcomes(result: unknown, count: number): ItemOutcome[] {
  const all = (error: Error) =>
    Array.from({ length: count }, () => ({ ok: false, error }) as const);
  if (result === undefined)
    return Array.from({ length: count }, () => ({ ok: true, value: undefined }) as const);
  if (!Array.isArray(result))
    return all(
      new TypeError(
        `handlerBatch returned ${result === null ? 'null' : typeof result}: return an array with one result per item, in order (undefined for no output), or nothing`,
      ),
    );
  if (result.length !== count)
    return all(
      new TypeError(
        `handlerBatch returned ${result.length} results for ${count} messages: return one per item, in order (undefined for no output)`,
      ),
    );
  return result.map((value: unknown) =>
    value instanceof Error ? { ok: false, error: value } : { ok: true, value },
  );
}
