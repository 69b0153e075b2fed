/**
 * How many replicas a workload should run, decided from its load (issue 16, "Autoscaling"): a
 * node's JetStream backlog, or the entrypoint's calls in flight through the gateways. The same
 * decision drives both drivers (the deployer re-applies the version's plan with the new count:
 * processes on the local driver, a Deployment's replicas on Kubernetes).
 *
 * The policy follows Kubernetes' HPA, KEDA and Knative, which teams know:
 * - the wanted count is `ceil(load / target)`, clamped to `[min, max]`; a node's load is what
 *   waits in its consumer plus what its replicas hold (`pending + ackPending`), the entrypoint's
 *   the average number of calls in flight (Knative's concurrency);
 * - with `drainSeconds`, a node also wants enough replicas for what waits to be handled within
 *   that time at the pace its replicas keep (their handler time, measured):
 *   `ceil(waiting / (perReplicaRate × drainSeconds))`, so a backlog of slow handlers (a model
 *   that takes seconds a message) scales out where a fixed target backlog would not;
 * - up: once the wanted count has stayed above the current one for `upAfterMs` (a sustained
 *   load, not one burst), to the lowest wanted count seen in that window, at most doubling
 *   (plus one) per step;
 * - down: only after `coolDownMs` with every sample wanting fewer, to the highest count wanted
 *   in that window (HPA's stabilisation window), so a square-wave load never flaps.
 * Pure: the caller feeds samples with its own clock, so tests drive time.
 */

/** A workload's scaling bounds, set by a runtime MANAGER (KRT `replicas` is the default). */
export interface ScaleBounds {
  readonly min: number;
  readonly max: number;
}

export interface AutoscalerOptions {
  /**
   * The load one replica is meant to carry: a node's messages waiting or held (KEDA's
   * lagThreshold), the entrypoint's calls in flight (Knative's target concurrency).
   */
  readonly target: number;
  /** How long the load must want more replicas before scaling up. */
  readonly upAfterMs: number;
  /** How long every sample must want fewer replicas before scaling down. */
  readonly coolDownMs: number;
  /** What the load is, for the reasons: `backlog` (the default) or `calls in flight`. */
  readonly measure?: string;
  /**
   * A node's waiting messages are meant to be handled within this many seconds at the pace its
   * replicas keep (absent or 0: the target alone).
   */
  readonly drainSeconds?: number;
}

export const DEFAULT_AUTOSCALER_OPTIONS: AutoscalerOptions = {
  target: 32,
  upAfterMs: 2_000,
  coolDownMs: 60_000,
};

/** One reading of a workload's load. */
export interface LoadSample {
  /** Milliseconds on the caller's clock. */
  readonly at: number;
  /** A node: `num_pending + num_ack_pending` of its consumers; the entrypoint: calls in flight. */
  readonly load: number;
  /** Of a node's load, the messages no replica holds yet (`num_pending`). */
  readonly waiting?: number;
  /** Messages one replica handles a second lately (measured from its acknowledgements). */
  readonly perReplicaRate?: number;
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
    if (!(options.target > 0))
      throw new RangeError(`target: must be above 0, not ${options.target}`);
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
  sample(sample: LoadSample): ScaleDecision | undefined {
    const load = Math.max(0, sample.load);
    const measure = this.options.measure ?? 'backlog';
    const byTarget = Math.ceil(load / this.options.target);
    const byDrain = this.drainWanted(sample);
    const wanted = this.clamp(Math.max(byTarget, byDrain));
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
        const why =
          byDrain > byTarget
            ? `${round(sample.waiting ?? 0)} waiting at ${round(sample.perReplicaRate ?? 0)}/s per replica, to be handled within ${this.options.drainSeconds} s`
            : `target ${this.options.target} per replica`;
        return this.change(
          Math.min(floor, this.current * 2 + 1),
          sample.at,
          `${measure} ${round(load)} for ${this.options.upAfterMs / 1000} s wants ${floor} (${why})`,
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
          `${measure} at most ${ceiling * this.options.target} for ${this.options.coolDownMs / 1000} s: ${ceiling} replica(s) carry it`,
        );
    }
    return undefined;
  }

  /** The replicas that handle what waits within `drainSeconds` at the measured pace (0: none). */
  private drainWanted(sample: LoadSample): number {
    const seconds = this.options.drainSeconds ?? 0;
    const rate = sample.perReplicaRate ?? 0;
    const waiting = Math.max(0, sample.waiting ?? 0);
    if (!(seconds > 0 && rate > 0 && waiting > 0)) return 0;
    return Math.ceil(waiting / (rate * seconds));
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

/** A load for the reasons: whole numbers as they are, averages to one decimal. */
function round(load: number): string {
  if (Number.isInteger(load)) return String(load);
  return load < 1 ? String(Number(load.toPrecision(2))) : load.toFixed(1);
}
