import { Inject, Injectable, Optional } from '@nestjs/common';
import { CLOCK, type Clock, systemClock } from '@libs/core';
import type { VersionActivity } from '@libs/messaging';

/**
 * How long a gateway's last figure for a version counts: a gateway reports a version with calls
 * in flight every ACTIVITY_REPORT_GAP_MS (1 s), up to twice that apart when its flush and a
 * call's first report interleave; a gateway silent longer has no calls of it (or is gone).
 */
export const IN_FLIGHT_TTL_MS = 3_000;

/** More versions tracked than this: stale figures are swept at the next report. */
const SWEEP_ABOVE = 10_000;

interface Figure {
  inFlight: number;
  atMs: number;
}

/**
 * The calls in flight of each version through every gateway (entrypoint autoscaling,
 * docs/lifecycle.md "Autoscaling"): each gateway's last report (`<p>.svc.gateway.activity`,
 * the average number of its calls in flight since its previous report), summed over the gateways
 * heard within IN_FLIGHT_TTL_MS. Every deployer hears every report, so the one that leads has
 * them all. A report without a gateway or a figure (an older gateway) counts nothing.
 */
@Injectable()
export class EntrypointLoad {
  /** `<rt>\0<ver>` → gateway → its last figure. */
  private readonly versions = new Map<string, Map<string, Figure>>();

  constructor(@Optional() @Inject(CLOCK) private readonly clock: Clock = systemClock) {}

  record(report: VersionActivity): void {
    if (report.gateway === undefined || report.inFlight === undefined) return;
    const nowMs = this.clock.now().getTime();
    if (this.versions.size > SWEEP_ABOVE) this.sweep(nowMs);
    const key = keyOf(report);
    let gateways = this.versions.get(key);
    if (!gateways) {
      gateways = new Map();
      this.versions.set(key, gateways);
    }
    gateways.set(report.gateway, { inFlight: report.inFlight, atMs: nowMs });
  }

  /** The version's calls in flight now: the fresh figures of every gateway, summed. */
  inFlight(ref: Pick<VersionActivity, 'runtimeId' | 'versionName'>, nowMs: number): number {
    const gateways = this.versions.get(keyOf(ref));
    if (!gateways) return 0;
    let sum = 0;
    for (const [gateway, figure] of gateways) {
      if (nowMs - figure.atMs > IN_FLIGHT_TTL_MS) gateways.delete(gateway);
      else sum += figure.inFlight;
    }
    if (gateways.size === 0) this.versions.delete(keyOf(ref));
    return sum;
  }

  /** Versions with a figure kept (bounded: stale ones are swept). */
  get size(): number {
    return this.versions.size;
  }

  private sweep(nowMs: number): void {
    for (const [key, gateways] of this.versions) {
      for (const [gateway, figure] of gateways)
        if (nowMs - figure.atMs > IN_FLIGHT_TTL_MS) gateways.delete(gateway);
      if (gateways.size === 0) this.versions.delete(key);
    }
  }
}

const keyOf = (ref: Pick<VersionActivity, 'runtimeId' | 'versionName'>) =>
  `${ref.runtimeId}\u0000${ref.versionName}`;
