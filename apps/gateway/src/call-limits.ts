/** Limits of one scope (a runtime, or one key). 0 turns a limit off. */
export interface LimitSettings {
  /** Sustained calls per second (token bucket refill). */
  ratePerSecond: number;
  /** Calls allowed at once above the sustained rate (bucket size). */
  burst: number;
  /** Calls in flight at once. */
  concurrency: number;
}

export interface CallLimitsSettings {
  runtime: LimitSettings;
  key: LimitSettings;
}

/** Why a call was refused (429 + Retry-After / RESOURCE_EXHAUSTED). */
export interface LimitRefusal {
  message: string;
  /** Whole seconds after which a retry may pass (at least 1). */
  retryAfterSeconds: number;
}

/** An admitted call: release it once it has ended (idempotent). */
export interface CallPermit {
  release(): void;
}

interface Scope {
  tokens: number;
  refilledAtMs: number;
  inFlight: number;
}

/**
 * Per-runtime and per-key rate (token bucket) and concurrency limits, so one tenant cannot
 * starve another at the gateway. Pure and clock-driven (`nowMs` comes from the caller), so
 * tests move time by hand. A call takes a token and a slot of its runtime and, when it carries a
 * key, of that key too; it is refused, taking nothing, when any of them has none left.
 */
export class CallLimits {
  private readonly runtimes = new Map<string, Scope>();
  private readonly keys = new Map<string, Scope>();

  constructor(private readonly settings: CallLimitsSettings) {}

  /** A permit for one call, or why not. */
  acquire(runtimeId: string, keyId: string | undefined, nowMs: number): CallPermit | LimitRefusal {
    const runtime = this.scope(this.runtimes, runtimeId, this.settings.runtime, nowMs);
    const key =
      keyId === undefined ? undefined : this.scope(this.keys, keyId, this.settings.key, nowMs);
    const refusal =
      this.refusal(runtime, this.settings.runtime, `runtime "${runtimeId}"`) ??
      (key && this.refusal(key, this.settings.key, 'this invocation key'));
    if (refusal) return refusal;
    for (const [scope, limits] of [
      [runtime, this.settings.runtime],
      ...(key ? [[key, this.settings.key] as const] : []),
    ] as const) {
      if (limits.ratePerSecond > 0) scope.tokens -= 1;
      scope.inFlight += 1;
    }
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        runtime.inFlight -= 1;
        if (key) key.inFlight -= 1;
      },
    };
  }

  /** Scopes tracked (idle full ones are dropped, so this stays bounded by the active ones). */
  get size(): number {
    return this.runtimes.size + this.keys.size;
  }

  private scope(map: Map<string, Scope>, id: string, limits: LimitSettings, nowMs: number): Scope {
    let scope = map.get(id);
    if (!scope) {
      scope = { tokens: limits.burst, refilledAtMs: nowMs, inFlight: 0 };
      map.set(id, scope);
      if (map.size > 10_000) this.sweep(map, limits, nowMs);
      return scope;
    }
    if (limits.ratePerSecond > 0 && nowMs > scope.refilledAtMs) {
      scope.tokens = Math.min(
        limits.burst,
        scope.tokens + ((nowMs - scope.refilledAtMs) * limits.ratePerSecond) / 1000,
      );
    }
    scope.refilledAtMs = Math.max(scope.refilledAtMs, nowMs);
    return scope;
  }

  private refusal(scope: Scope, limits: LimitSettings, what: string): LimitRefusal | undefined {
    if (limits.concurrency > 0 && scope.inFlight >= limits.concurrency) {
      return {
        message: `${what} has ${scope.inFlight} calls in flight, the most allowed at once: retry when one has ended`,
        retryAfterSeconds: 1,
      };
    }
    if (limits.ratePerSecond > 0 && scope.tokens < 1) {
      return {
        message: `${what} is over its rate limit of ${limits.ratePerSecond} calls per second: retry later`,
        retryAfterSeconds: Math.max(1, Math.ceil((1 - scope.tokens) / limits.ratePerSecond)),
      };
    }
    return undefined;
  }

  /** Drops scopes with nothing in flight and a full bucket: they hold no state worth keeping. */
  private sweep(map: Map<string, Scope>, limits: LimitSettings, nowMs: number): void {
    for (const [id, scope] of map) {
      const full =
        limits.ratePerSecond <= 0 ||
        scope.tokens + ((nowMs - scope.refilledAtMs) * limits.ratePerSecond) / 1000 >= limits.burst;
      if (scope.inFlight === 0 && full) map.delete(id);
    }
  }
}

export function isRefusal(result: CallPermit | LimitRefusal): result is LimitRefusal {
  return 'retryAfterSeconds' in result;
}
