import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { VersionActivity } from '@libs/messaging';

/** A version's calls are reported at most this often (per version and gateway). */
export const ACTIVITY_REPORT_GAP_MS = 1_000;

interface Seen {
  /** When it was last reported (never: -Infinity). */
  reportedAtMs: number;
  /** Calls since that report. */
  dirty: boolean;
  /** Calls in flight (held ones too): a long call keeps its version awake. */
  inFlight: number;
  /** The integral of `inFlight` over time since the last report (call-milliseconds)... */
  areaMs: number;
  /** ...up to this time. */
  areaUntilMs: number;
}

/**
 * Tells the deployer which versions get calls and how many are in flight (scale to zero's idle
 * clock, entrypoint autoscaling): one compact message per version (`{runtimeId, versionName,
 * gateway, inFlight}` on `<p>.svc.gateway.activity`) at once when it was not reported for
 * `gapMs`, else at the next `flush` (the gateway flushes every `gapMs`); a version with calls in
 * flight is reported at each flush until they end. `inFlight` is the average number of the
 * version's calls in flight here since the previous report (Knative's concurrency), the number
 * in flight at a first report. Pure but for `publish`; the caller gives the time.
 */
export class ActivityReporter {
  private readonly seen = new Map<string, Seen>();

  /**
   * @param gateway this gateway's id in its reports (the deployer sums the gateways' figures)
   */
  constructor(
    private readonly publish: (report: VersionActivity) => void,
    private readonly gapMs = ACTIVITY_REPORT_GAP_MS,
    readonly gateway = `gw-${randomBytes(6).toString('hex')}`,
  ) {}

  static overNats(nc: NatsConnection, subject: string, gapMs?: number): ActivityReporter {
    return new ActivityReporter((report) => {
      try {
        nc.publish(subject, JSON.stringify(report));
      } catch {
        // A lost report costs an early sleep at worst (the next call wakes it), never a call.
      }
    }, gapMs);
  }

  /** A call of the version begins; call the returned function with the time once it has ended. */
  begin(runtimeId: string, versionName: string, nowMs: number): (endMs: number) => void {
    const key = `${runtimeId}\u0000${versionName}`;
    let seen = this.seen.get(key);
    if (!seen) {
      seen = { reportedAtMs: -Infinity, dirty: false, inFlight: 0, areaMs: 0, areaUntilMs: nowMs };
      this.seen.set(key, seen);
    }
    accrue(seen, nowMs);
    seen.inFlight += 1;
    if (nowMs - seen.reportedAtMs >= this.gapMs) this.report(key, seen, nowMs);
    else seen.dirty = true;
    let ended = false;
    const own = seen;
    return (endMs: number) => {
      if (ended) return;
      ended = true;
      accrue(own, endMs);
      own.inFlight -= 1;
      own.dirty = true; // its end counts as a call: the idle time runs from here
    };
  }

  /** Reports what changed since the last report; forgets versions quiet for a while. */
  flush(nowMs: number): void {
    for (const [key, seen] of this.seen) {
      if (seen.dirty || seen.inFlight > 0) {
        if (nowMs - seen.reportedAtMs < this.gapMs) continue;
        accrue(seen, nowMs);
        this.report(key, seen, nowMs);
      } else if (nowMs - seen.reportedAtMs >= this.gapMs) this.seen.delete(key);
    }
  }

  /** Versions tracked (bounded by those called within the last gap). */
  get size(): number {
    return this.seen.size;
  }

  private report(key: string, seen: Seen, nowMs: number): void {
    const [runtimeId, versionName] = key.split('\u0000');
    const spanMs = nowMs - seen.reportedAtMs;
    // A first report (or one after a long quiet): the calls in flight now.
    const inFlight =
      spanMs <= 0 || spanMs > 4 * this.gapMs
        ? seen.inFlight
        : Math.round((seen.areaMs / spanMs) * 100) / 100;
    seen.reportedAtMs = nowMs;
    seen.dirty = false;
    seen.areaMs = 0;
    this.publish({ runtimeId, versionName, gateway: this.gateway, inFlight });
  }
}

/** Adds the calls in flight since `areaUntilMs` to the integral. */
function accrue(seen: Seen, nowMs: number): void {
  if (nowMs > seen.areaUntilMs) {
    seen.areaMs += seen.inFlight * (nowMs - seen.areaUntilMs);
    seen.areaUntilMs = nowMs;
  }
}
