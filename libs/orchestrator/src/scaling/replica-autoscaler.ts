/**
 * How many replicas a node should run, decided from its JetStream consumer's backlog (issue 16,
 * "Autoscaling"): the same decision drives both drivers (the deployer re-applies the version's
 * plan with the new count: processes on the local driver, a Deployment's replicas on Kubernetes).
 *
 * The policy follows Kubernetes' HPA and KEDA, which teams know:
 * - the wanted count is `ceil(backlog / targetBacklog)` where the backlog is what waits in the
 *   consumer plus what replicas hold (`pending + ackPending`), clamped to `[min, max]`;
 * - up: once the wanted count has stayed above the current one for `upAfterMs` (a sustained
 *   backlog, not one burst), to the lowest wanted count seen in that window, at most doubling
 *   (plus one) per step;
 * - down: only after `coolDownMs` with every sample wanting fewer, to the highest count wanted
 *   in that window (HPA's stabilisation window), so a square-wave load never flaps.
 * Pure: the caller feeds samples with its own clock, so tests drive time.
 */

/** A version's node scaling bounds, set by a runtime MANAGER (KRT `replicas` is the default). */
export interface ScaleBounds {
  readonly min: number;
  readonly max: number;
}

export interface AutoscalerOptions {
  /** Messages waiting or held per replica that a replica is meant to carry (KEDA's lagThreshold). */
  readonly targetBacklog: number;
  /** How long the backlog must want more replicas before scaling up. */
  readonly upAfterMs: number;
  /** How long every sample must want fewer replicas before scaling down. */
  readonly coolDownMs: number;
}

export const DEFAULT_AUTOSCALER_OPTIONS: AutoscalerOptions = {
  targetBacklog: 32,
  upAfterMs: 2_000,
  coolDownMs: 60_000,
};

/** One reading of a node's consumer. */
export interface BacklogSample {
  /** Milliseconds on the caller's clock. */
  readonly at: number;
  /** Messages in the stream not yet delivered to the consumer (`num_pending`). */
  readonly pending: number;
  /** Delivered, not yet acknowledged (`num_ack_pending`): held by the replicas. */
  readonly ackPending: number;
}

export interface ScaleDecision {
  readonly replicas: number;
  /** Why, for the version's logs: "backlog 640 over 2 s wants 4 (target 32 each)". */
  readonly reason: string;
}

/**
 * @throws RangeError unless 1 <= min <= max (an awake node runs at least one replica; sleeping
 * is the version's idle timeout, not this policy)
 */
export function checkBounds(bounds: ScaleBounds): void {
  if (!(Number.isInteger(bounds.min) && Number.isInteger(bounds.max)))
    throw new RangeError(`scale bounds: min and max must be whole numbers`);
  if (!(bounds.min >= 1 && bounds.max >= bounds.min))
    throw new RangeError(
      `scale bounds: min ${bounds.min} and max ${bounds.max} must satisfy 1 <= min <= max`,
    );
}

/** The replica count a node's samples call for; one instance per node of a started version. */
export class ReplicaAutoscaler {
  private readonly window: { at: number; wanted: number }[] = [];
  private lastChange = Number.NEGATIVE_INFINITY;

  constructor(
    private current: number,
    private bounds: ScaleBounds,
    private readonly options: AutoscalerOptions = DEFAULT_AUTOSCALER_OPTIONS,
  ) {
    checkBounds(bounds);
    if (!(options.targetBacklog > 0))
      throw new RangeError(`targetBacklog: must be above 0, not ${options.targetBacklog}`);
    this.current = this.clamp(current);
  }

  get replicas(): number {
    return this.current;
  }

  /** New bounds from a MANAGER: the count moves into them at once. */
  setBounds(bounds: ScaleBounds): ScaleDecision | undefined {
    checkBounds(bounds);
    this.bounds = bounds;
    const clamped = this.clamp(this.current);
    if (clamped === this.current) return undefined;
    this.current = clamped;
    this.window.length = 0;
    return { replicas: clamped, reason: `bounds set to ${bounds.min}..${bounds.max}` };
  }

  /** The replicas changed outside this policy (a restart of the deployer adopting them). */
  observe(replicas: number): void {
    this.current = replicas;
  }

  /** Feeds one reading; returns a decision when the count should change. */
  sample(sample: BacklogSample): ScaleDecision | undefined {
    const backlog = Math.max(0, sample.pending) + Math.max(0, sample.ackPending);
    const wanted = this.clamp(Math.ceil(backlog / this.options.targetBacklog));
    this.window.push({ at: sample.at, wanted });
    const horizon = sample.at - Math.max(this.options.upAfterMs, this.options.coolDownMs);
    // Keeps one sample at or before the horizon: it tells the window covers the whole period.
    while (this.window.length > 1 && this.window[1].at <= horizon) this.window.shift();

    const since = (ms: number) => this.window.filter((s) => s.at >= sample.at - ms);
    const held = (ms: number) => sample.at - ms >= this.lastChange && this.covers(sample.at - ms);

    if (wanted > this.current && held(this.options.upAfterMs)) {
      const recent = since(this.options.upAfterMs);
      if (recent.every((s) => s.wanted > this.current)) {
        const floor = Math.min(...recent.map((s) => s.wanted));
        return this.change(
          Math.min(floor, this.current * 2 + 1),
          sample.at,
          `backlog ${backlog} for ${this.options.upAfterMs / 1000} s wants ${floor} (target ${this.options.targetBacklog} per replica)`,
        );
      }
    }
    if (wanted < this.current && held(this.options.coolDownMs)) {
      const recent = since(this.options.coolDownMs);
      const ceiling = Math.max(...recent.map((s) => s.wanted));
      if (ceiling < this.current)
        return this.change(
          ceiling,
          sample.at,
          `backlog at most ${ceiling * this.options.targetBacklog} for ${this.options.coolDownMs / 1000} s: ${ceiling} replica(s) carry it`,
        );
    }
    return undefined;
  }

  private covers(from: number): boolean {
    return this.window.length > 0 && this.window[0].at <= from;
  }

  private change(replicas: number, at: number, reason: string): ScaleDecision | undefined {
    if (replicas === this.current) return undefined;
    this.current = replicas;
    this.lastChange = at;
    return { replicas, reason };
  }

  private clamp(n: number): number {
    return Math.min(this.bounds.max, Math.max(this.bounds.min, n));
  }
}
