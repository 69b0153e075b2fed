import type { NatsConnection } from '@nats-io/transport-node';
import type { VersionActivity } from '@libs/messaging';

/** A version's calls are reported at most this often (per version and gateway). */
export const ACTIVITY_REPORT_GAP_MS = 2_000;

interface Seen {
  /** When it was last reported (0: never). */
  reportedAtMs: number;
  /** Calls since that report. */
  dirty: boolean;
  /** Calls in flight (held ones too): a long call keeps its version awake. */
  inFlight: number;
}

/**
 * Tells the deployer which versions get calls (scale to zero's idle clock): one compact message
 * per version (`{runtimeId, versionName}` on `<p>.svc.gateway.activity`) at once when it was not
 * reported for `gapMs`, else at the next `flush` (the gateway flushes every `gapMs`); a version
 * with calls in flight is reported at each flush until they end. Pure but for `publish`; the
 * caller gives the time.
 */
export class ActivityReporter {
  private readonly seen = new Map<string, Seen>();

  constructor(
    private readonly publish: (report: VersionActivity) => void,
    private readonly gapMs = ACTIVITY_REPORT_GAP_MS,
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

  /** A call of the version begins; call the returned function once it has ended. */
  begin(runtimeId: string, versionName: string, nowMs: number): () => void {
    const key = `${runtimeId}\u0000${versionName}`;
    let seen = this.seen.get(key);
    if (!seen) {
      seen = { reportedAtMs: 0, dirty: false, inFlight: 0 };
      this.seen.set(key, seen);
    }
    seen.inFlight += 1;
    if (seen.reportedAtMs === 0 || nowMs - seen.reportedAtMs >= this.gapMs) {
      seen.reportedAtMs = nowMs;
      seen.dirty = false;
      this.publish({ runtimeId, versionName });
    } else seen.dirty = true;
    let ended = false;
    const own = seen;
    return () => {
      if (ended) return;
      ended = true;
      own.inFlight -= 1;
      own.dirty = true; // its end counts as a call: the idle time runs from here
    };
  }

  /** Reports what changed since the last report; forgets versions quiet for a while. */
  flush(nowMs: number): void {
    for (const [key, seen] of this.seen) {
      if (seen.dirty || seen.inFlight > 0) {
        if (nowMs - seen.reportedAtMs < this.gapMs) continue;
        const [runtimeId, versionName] = key.split('\u0000');
        seen.reportedAtMs = nowMs;
        seen.dirty = false;
        this.publish({ runtimeId, versionName });
      } else if (nowMs - seen.reportedAtMs >= this.gapMs) this.seen.delete(key);
    }
  }

  /** Versions tracked (bounded by those called within the last gap). */
  get size(): number {
    return this.seen.size;
  }
}
