import { Logger } from '@nestjs/common';
import type { Clock } from '@libs/core';
import type { ScaleState, WakeReply } from '@libs/messaging';
import { GatewayRefusal } from './admission.js';
import type { ActivityReporter } from './activity-reporter.js';

export interface WakeGateSettings {
  /** The longest a call is held for a sleeping version when it carries no earlier deadline. */
  holdMs: number;
  /** Calls held at once per version; more are refused (RESOURCE_EXHAUSTED). */
  maxHeld: number;
  /** After a wake request that failed (no deployer answered), the next try. */
  retryMs: number;
  /**
   * How long before its own deadline a held call is answered UNAVAILABLE, so the caller gets
   * the gateway's answer rather than its own DEADLINE_EXCEEDED.
   */
  deadlineMarginMs: number;
}

export const WAKE_GATE_DEFAULTS: Omit<WakeGateSettings, 'holdMs' | 'maxHeld'> = {
  retryMs: 1_000,
  deadlineMarginMs: 50,
};

/** Runs `run` after `ms`; returns what cancels it (injected, so tests move time by hand). */
export type Schedule = (run: () => void, ms: number) => () => void;

export const realSchedule: Schedule = (run, ms) => {
  const timer = setTimeout(run, ms);
  timer.unref();
  return () => clearTimeout(timer);
};

/** Asks the deployer to wake a version (`<p>.svc.gateway.wake`); rejects when none answers. */
export type WakeRequester = (runtimeId: string, versionName: string) => Promise<WakeReply>;

interface Waiter {
  resolve(): void;
  reject(error: GatewayRefusal): void;
  cancelTimer(): void;
}

interface Sleeper {
  waiters: Set<Waiter>;
  /** A wake request is on its way, or was answered `queued` for this sleep. */
  asked: boolean;
  /** When it was last asked (a sleep still not over `holdMs` later is asked again). */
  askedAtMs: number;
  /** When the first call of this sleep was held (the wake's duration runs from there). */
  heldSinceMs: number;
  cancelRetry?: () => void;
}

/**
 * Scale to zero at the gateway: a call for a SLEEPING or WAKING version is held here until the
 * route says AWAKE again, and the first held call of a sleep asks the deployer to wake it: one
 * request per sleep however many calls come (single flight; the deployer's wake job is
 * deduplicated too), asked again only when that request failed. A held call whose deadline
 * (gRPC's, else `holdMs`) passes, or cannot be met by the last wake's duration, is answered
 * UNAVAILABLE (HTTP 503) with Retry-After; past `maxHeld` per version RESOURCE_EXHAUSTED (429).
 * Never a hang: every held call has a timer. Pure but for `requestWake` and `schedule`.
 */
export class WakeGate {
  private readonly logger = new Logger(WakeGate.name);
  private readonly sleepers = new Map<string, Sleeper>();
  /** How long the last wake of each version took, from the first held call to AWAKE. */
  private readonly lastWakeMs = new Map<string, number>();
  /** Wake requests sent (tests, metrics). */
  wakeRequests = 0;

  constructor(
    private readonly requestWake: WakeRequester,
    private readonly settings: WakeGateSettings,
    private readonly clock: Clock,
    private readonly schedule: Schedule = realSchedule,
  ) {}

  /** Calls held now, over every version. */
  get held(): number {
    let n = 0;
    for (const sleeper of this.sleepers.values()) n += sleeper.waiters.size;
    return n;
  }

  /**
   * Resolves once the version is awake; `deadlineAtMs`: the call's own deadline (epoch ms).
   * `signal`: the caller went away (its slot is freed, nothing is answered).
   * @throws GatewayRefusal UNAVAILABLE or RESOURCE_EXHAUSTED
   */
  hold(
    runtimeId: string,
    version: string,
    deadlineAtMs?: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const key = `${runtimeId}/${version}`;
    const now = this.now();
    let sleeper = this.sleepers.get(key);
    if (!sleeper) {
      sleeper = { waiters: new Set(), asked: false, askedAtMs: 0, heldSinceMs: now };
      this.sleepers.set(key, sleeper);
    }
    const what = `version "${version}" of runtime "${runtimeId}"`;
    if (sleeper.waiters.size >= this.settings.maxHeld) {
      return Promise.reject(
        new GatewayRefusal(
          'RESOURCE_EXHAUSTED',
          `${what} is waking up and already holds ${sleeper.waiters.size} calls, the most allowed: retry in a moment`,
          1,
        ),
      );
    }
    this.ask(runtimeId, version, sleeper);
    const budgetMs = Math.min(
      this.settings.holdMs,
      deadlineAtMs === undefined ? Infinity : deadlineAtMs - now - this.settings.deadlineMarginMs,
    );
    // The last wake's duration, less what this one has already run: what is left to wait.
    const expectedMs = this.lastWakeMs.get(key);
    const leftMs = () => (expectedMs ?? 1_000) - (this.now() - sleeper.heldSinceMs);
    const retryAfter = () => Math.max(1, Math.ceil(leftMs() / 1_000));
    if (budgetMs <= 0 || (expectedMs !== undefined && leftMs() > budgetMs)) {
      return Promise.reject(
        new GatewayRefusal(
          'UNAVAILABLE',
          `${what} is asleep and is being woken, which cannot be done within this call's deadline${expectedMs !== undefined ? ` (its last wake took ${expectedMs} ms)` : ''}: retry shortly`,
          retryAfter(),
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          waiter.cancelTimer();
          resolve();
        },
        reject: (error) => {
          waiter.cancelTimer();
          reject(error);
        },
        cancelTimer: () => undefined,
      };
      const cancel = this.schedule(() => {
        sleeper.waiters.delete(waiter);
        this.forgetIfIdle(key, sleeper);
        reject(
          new GatewayRefusal(
            'UNAVAILABLE',
            `${what} is waking up and was not ready within ${Math.round(budgetMs)} ms: retry shortly`,
            retryAfter(),
          ),
        );
      }, budgetMs);
      waiter.cancelTimer = cancel;
      sleeper.waiters.add(waiter);
      signal?.addEventListener('abort', () => {
        if (!sleeper.waiters.delete(waiter)) return;
        cancel();
        this.forgetIfIdle(key, sleeper);
      });
    });
  }

  /** The route of a version changed (route-table.ts): AWAKE lets its held calls through. */
  routeChanged(runtimeId: string, version: string, scale: ScaleState | 'gone'): void {
    const key = `${runtimeId}/${version}`;
    const sleeper = this.sleepers.get(key);
    if (!sleeper) return;
    if (scale === 'SLEEPING' || scale === 'WAKING') return;
    this.sleepers.delete(key);
    sleeper.cancelRetry?.();
    if (scale === 'AWAKE') {
      if (sleeper.waiters.size > 0) this.lastWakeMs.set(key, this.now() - sleeper.heldSinceMs);
      for (const waiter of sleeper.waiters) waiter.resolve();
      return;
    }
    for (const waiter of sleeper.waiters)
      waiter.reject(
        new GatewayRefusal(
          'UNAVAILABLE',
          `version "${version}" of runtime "${runtimeId}" was stopped while it was waking up`,
          1,
        ),
      );
  }

  /** Asks for a wake once per sleep; again after `retryMs` if the request failed. */
  private ask(runtimeId: string, version: string, sleeper: Sleeper): void {
    const now = this.now();
    if (sleeper.asked && now - sleeper.askedAtMs < this.settings.holdMs) return;
    sleeper.asked = true;
    sleeper.askedAtMs = now;
    this.wakeRequests += 1;
    const key = `${runtimeId}/${version}`;
    const failed = (why: string) => {
      if (this.sleepers.get(key) !== sleeper) return; // awake, or stopped, meanwhile
      this.logger.warn(`wake of ${runtimeId}/${version} not queued: ${why}; asking again`);
      sleeper.cancelRetry = this.schedule(() => {
        sleeper.cancelRetry = undefined;
        sleeper.asked = false;
        if (sleeper.waiters.size > 0) this.ask(runtimeId, version, sleeper);
      }, this.settings.retryMs);
    };
    this.requestWake(runtimeId, version).then(
      (reply) => {
        if (!reply.queued) failed(reply.message ?? 'the deployer refused');
      },
      (error: unknown) => failed(error instanceof Error ? error.message : String(error)),
    );
  }

  /** A sleeper with no held call and no wake asked is dropped (the next call asks again). */
  private forgetIfIdle(key: string, sleeper: Sleeper): void {
    if (sleeper.waiters.size === 0 && !sleeper.asked && this.sleepers.get(key) === sleeper)
      this.sleepers.delete(key);
  }

  private now(): number {
    return this.clock.now().getTime();
  }
}

/** Scale to zero as the proxies use it: hold calls of sleeping versions, report every call. */
export interface ScaleToZero {
  gate: WakeGate;
  activity: ActivityReporter;
  clock: Clock;
}

/** Whether calls of a version in this state must wait for a wake. */
export function isAsleep(scale: ScaleState | undefined): boolean {
  return scale === 'SLEEPING' || scale === 'WAKING';
}

const GRPC_TIMEOUT_UNITS_MS: Record<string, number> = {
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 0.001,
  n: 0.000_001,
};

/** The `grpc-timeout` header (`<1-8 digits><H|M|S|m|u|n>`) in ms; undefined when absent or malformed. */
export function grpcTimeoutMs(value: string | undefined): number | undefined {
  const match = value === undefined ? null : /^(\d{1,8})([HMSmun])$/.exec(value);
  return match ? Number(match[1]) * GRPC_TIMEOUT_UNITS_MS[match[2]] : undefined;
}
