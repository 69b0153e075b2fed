import type { ScaleState } from '@libs/messaging';

/** A running version as the idle clock sees it. */
export interface IdleCandidate {
  runtimeId: string;
  versionName: string;
  /** Its own idle time, else the installation's (0: never sleeps). */
  idleSeconds: number;
  /** Absent: AWAKE (a version started before scale to zero existed, or just started). */
  state?: ScaleState;
  /** When it started, and when its scale state last changed (a wake): calls count from there. */
  startedAtMs?: number;
  stateSinceMs?: number;
}

const keyOf = (runtimeId: string, versionName: string) => `${runtimeId}/${versionName}`;

/**
 * The deployer's idea of when each version was last called (scale to zero): gateways report a
 * version's calls at most every few seconds (`<p>.svc.gateway.activity`); a version is idle once
 * `idleSeconds` passed since the latest of its last call, its start, its last wake and this
 * deployer's own start (a deployer that restarts knows no earlier calls, so it waits a whole
 * idle time before putting anything to sleep). Pure: the caller gives the time.
 */
export class IdleClock {
  private readonly lastCall = new Map<string, number>();

  constructor(private readonly bootedAtMs: number) {}

  /** A gateway reported calls of the version. */
  called(runtimeId: string, versionName: string, atMs: number): void {
    const key = keyOf(runtimeId, versionName);
    this.lastCall.set(key, Math.max(this.lastCall.get(key) ?? 0, atMs));
  }

  /** Milliseconds since the version last had a reason to stay awake. */
  idleMs(version: IdleCandidate, nowMs: number): number {
    const since = Math.max(
      this.bootedAtMs,
      this.lastCall.get(keyOf(version.runtimeId, version.versionName)) ?? 0,
      version.startedAtMs ?? 0,
      version.stateSinceMs ?? 0,
    );
    return nowMs - since;
  }

  /** Whether the version should sleep now: awake, with an idle time, and idle that long. */
  isDue(version: IdleCandidate, nowMs: number): boolean {
    if (version.idleSeconds <= 0) return false;
    if (version.state !== undefined && version.state !== 'AWAKE') return false;
    return this.idleMs(version, nowMs) >= version.idleSeconds * 1_000;
  }

  /** The versions among `running` to put to sleep now. */
  due(running: readonly IdleCandidate[], nowMs: number): IdleCandidate[] {
    return running.filter((version) => this.isDue(version, nowMs));
  }

  /** Forgets versions no longer running (bounded by the running ones). */
  retain(running: readonly Pick<IdleCandidate, 'runtimeId' | 'versionName'>[]): void {
    const keep = new Set(running.map((v) => keyOf(v.runtimeId, v.versionName)));
    for (const key of [...this.lastCall.keys()]) if (!keep.has(key)) this.lastCall.delete(key);
  }
}
