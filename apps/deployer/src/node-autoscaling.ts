import {
  type AutoscalerOptions,
  ENTRYPOINT_WORKLOAD,
  type LoadSample,
  ReplicaAutoscaler,
  type ScaleBounds,
  type ScaleDecision,
} from '@libs/orchestrator';

/** One input of a node: the workflow stream and the durable consumer that delivers it. */
export interface NodeInputRef {
  readonly stream: string;
  readonly consumer: string;
}

/**
 * A workload of a running version with bounds set by a MANAGER: a node (`scale.autoscale`) or
 * the entrypoint (`scale.entrypointAutoscale`).
 */
export interface BoundedNode {
  /** `<workflow>.<node>`, or `entrypoint` (the plan's workload id). */
  readonly workloadId: string;
  readonly bounds: ScaleBounds;
  /**
   * A node's consumers: their `num_pending + num_ack_pending` summed are its backlog. The
   * entrypoint has none: its load is its calls in flight (`inFlight`).
   */
  readonly inputs: readonly NodeInputRef[];
}

/** A running version as node autoscaling sees it. */
export interface ScaledVersion {
  readonly runtimeId: string;
  readonly versionName: string;
  /** AWAKE (or never slept): its workloads run. Asleep or waking: nothing to scale. */
  readonly awake: boolean;
  readonly nodes: readonly BoundedNode[];
}

/** One node's change, with the policy's reason (for the version's logs). */
export interface NodeScaleChange {
  readonly workloadId: string;
  readonly from: number;
  readonly to: number;
  readonly reason: string;
}

/** What the controller needs from the deployer: the catalog, JetStream, the driver. */
export interface NodeAutoscalingPorts {
  /** The running versions that have at least one bounded node. */
  running: () => Promise<ScaledVersion[]>;
  /** A consumer's counts (JetStream `consumerInfo`). */
  backlog: (input: NodeInputRef) => Promise<ConsumerCounts>;
  /** The version's calls in flight through every gateway, on average lately (their reports). */
  inFlight: (ref: VersionKey, nowMs: number) => number;
  /** How many replicas each workload of the version runs now (the driver's status). */
  replicasOf: (ref: VersionKey) => Promise<Record<string, number>>;
  /**
   * Re-applies the version's plan with `counts` for its bounded nodes, serialized with its other
   * jobs; may cap a scale-up to fit the runtime's quota. Resolves to the counts applied.
   */
  apply: (
    ref: VersionKey,
    counts: Readonly<Record<string, number>>,
    changes: readonly NodeScaleChange[],
  ) => Promise<Record<string, number>>;
}

/** A node consumer's counts (JetStream `consumerInfo`). */
export interface ConsumerCounts {
  /** Not yet delivered (`num_pending`). */
  readonly pending: number;
  /** Delivered, not yet acknowledged (`num_ack_pending`): held by the replicas. */
  readonly ackPending: number;
  /** Deliveries acknowledged so far (`ack_floor.consumer_seq`): the replicas' pace, over time. */
  readonly acked: number;
}

/** How far back a node's pace (acknowledgements a second) is measured. */
export const PACE_WINDOW_MS = 5_000;

export interface VersionKey {
  readonly runtimeId: string;
  readonly versionName: string;
}

interface TrackedNode {
  readonly autoscaler: ReplicaAutoscaler;
  bounds: ScaleBounds;
  /** Its consumers' acknowledged count, sampled (within PACE_WINDOW_MS). */
  readonly acks: { at: number; acked: number }[];
}

interface VersionState {
  readonly nodes: Map<string, TrackedNode>;
  applying: boolean;
}

const keyOf = (ref: VersionKey) => `${ref.runtimeId}/${ref.versionName}`;
const sameBounds = (a: ScaleBounds, b: ScaleBounds) => a.min === b.min && a.max === b.max;

/**
 * Autoscaling (docs/lifecycle.md, "Autoscaling"): one `ReplicaAutoscaler` per bounded workload
 * of each awake version, fed one sample of its load per `tick` (a node's consumers' backlog, the
 * entrypoint's calls in flight); a decision
 * re-applies the version's plan with the node's new count. A version that sleeps or stops drops
 * its autoscalers; one that wakes starts again at `min`; one adopted after a deployer restart
 * keeps the count it runs (within its bounds). While an apply runs, the version is not sampled
 * (its samples would measure the old capacity). Time comes from the caller: tests drive it.
 */
export class NodeAutoscaling {
  private readonly versions = new Map<string, VersionState>();
  /** Versions seen asleep since they were last awake here: they wake at `min`. */
  private readonly slept = new Set<string>();
  private ticking = false;
  private readonly inflight = new Set<Promise<void>>();

  /**
   * @param options the nodes' policy (their target backlog)
   * @param entrypointOptions the entrypoint's (its target calls in flight per replica)
   */
  constructor(
    private readonly ports: NodeAutoscalingPorts,
    private readonly options: AutoscalerOptions,
    private readonly entrypointOptions: AutoscalerOptions,
    private readonly onError: (ref: VersionKey, error: unknown) => void = () => undefined,
  ) {}

  /** The counts this controller keeps for a version's bounded nodes (the planner's overrides). */
  countsOf(ref: VersionKey): Record<string, number> | undefined {
    const state = this.versions.get(keyOf(ref));
    if (!state) return undefined;
    return Object.fromEntries([...state.nodes].map(([id, n]) => [id, n.autoscaler.replicas]));
  }

  /** Resolves once the applies begun so far are done (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.inflight]);
  }

  /** One round: every awake version's bounded nodes sampled once. Resolves once decided. */
  async tick(nowMs: number): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const running = await this.ports.running();
      this.retain(running);
      await Promise.all(
        running
          .filter((v) => v.awake && v.nodes.length > 0)
          .map((v) => this.round(v, nowMs).catch((error: unknown) => this.onError(v, error))),
      );
    } finally {
      this.ticking = false;
    }
  }

  /** Drops the versions that stopped or sleep; remembers the sleeping ones. */
  private retain(running: readonly ScaledVersion[]): void {
    const byKey = new Map(running.map((v) => [keyOf(v), v]));
    for (const key of [...this.versions.keys()]) {
      const version = byKey.get(key);
      if (version?.awake) continue;
      this.versions.delete(key);
      if (version) this.slept.add(key);
    }
    for (const key of [...this.slept]) {
      const version = byKey.get(key);
      if (!version) this.slept.delete(key);
    }
  }

  private async round(version: ScaledVersion, nowMs: number): Promise<void> {
    const key = keyOf(version);
    let state = this.versions.get(key);
    const changes: NodeScaleChange[] = [];
    if (!state) {
      state = { nodes: new Map(), applying: false };
      this.versions.set(key, state);
    }
    if (state.applying) return;
    const missing = version.nodes.filter((n) => !state.nodes.has(n.workloadId));
    if (missing.length > 0) {
      const woken = this.slept.delete(key);
      const actual = await this.ports.replicasOf(version);
      for (const node of missing) {
        const running = actual[node.workloadId] ?? node.bounds.min;
        const start = woken ? node.bounds.min : running;
        const autoscaler = new ReplicaAutoscaler(
          start,
          node.bounds,
          node.workloadId === ENTRYPOINT_WORKLOAD ? this.entrypointOptions : this.options,
        );
        state.nodes.set(node.workloadId, { autoscaler, bounds: node.bounds, acks: [] });
        if (autoscaler.replicas !== running)
          changes.push({
            workloadId: node.workloadId,
            from: running,
            to: autoscaler.replicas,
            reason: woken
              ? `woken: back to min ${node.bounds.min}`
              : `bounds ${node.bounds.min}..${node.bounds.max}`,
          });
      }
    }
    const listed = new Set(version.nodes.map((n) => n.workloadId));
    for (const id of [...state.nodes.keys()]) if (!listed.has(id)) state.nodes.delete(id);

    await Promise.all(
      version.nodes.map(async (node) => {
        const tracked = state.nodes.get(node.workloadId);
        if (!tracked || changes.some((c) => c.workloadId === node.workloadId)) return;
        const from = tracked.autoscaler.replicas;
        let decision: ScaleDecision | undefined;
        if (!sameBounds(tracked.bounds, node.bounds)) {
          tracked.bounds = node.bounds;
          decision = tracked.autoscaler.setBounds(node.bounds);
        }
        if (!decision && node.bounds.max > node.bounds.min)
          decision = tracked.autoscaler.sample(await this.sampleOf(version, node, tracked, nowMs));
        if (decision)
          changes.push({
            workloadId: node.workloadId,
            from,
            to: decision.replicas,
            reason: decision.reason,
          });
      }),
    );
    if (changes.length === 0) return;

    // In the background: one version's scale-out waiting for its replicas holds no other's.
    state.applying = true;
    const applying = this.applyChanges(version, state, changes)
      .catch((error: unknown) => this.onError(version, error))
      .finally(() => {
        state.applying = false;
        this.inflight.delete(applying);
      });
    this.inflight.add(applying);
  }

  /**
   * The entrypoint's calls in flight; a node's backlog (waiting and held in its consumers), what
   * of it waits, and the pace one replica keeps (acknowledgements a second over the last
   * PACE_WINDOW_MS, shared by its replicas).
   */
  private async sampleOf(
    version: VersionKey,
    node: BoundedNode,
    tracked: TrackedNode,
    nowMs: number,
  ): Promise<LoadSample> {
    if (node.workloadId === ENTRYPOINT_WORKLOAD)
      return { at: nowMs, load: this.ports.inFlight(version, nowMs) };
    const counts = await Promise.all(node.inputs.map((input) => this.ports.backlog(input)));
    const waiting = counts.reduce((sum, c) => sum + Math.max(0, c.pending), 0);
    const held = counts.reduce((sum, c) => sum + Math.max(0, c.ackPending), 0);
    const acked = counts.reduce((sum, c) => sum + Math.max(0, c.acked), 0);
    const { acks } = tracked;
    // A consumer made again counts from 0: the pace starts over.
    if (acks.length > 0 && acked < acks[acks.length - 1].acked) acks.length = 0;
    acks.push({ at: nowMs, acked });
    while (acks.length > 2 && acks[1].at <= nowMs - PACE_WINDOW_MS) acks.shift();
    const first = acks[0];
    const seconds = (nowMs - first.at) / 1_000;
    const perReplicaRate =
      seconds >= 1 ? (acked - first.acked) / seconds / tracked.autoscaler.replicas : undefined;
    return { at: nowMs, load: waiting + held, waiting, perReplicaRate };
  }

  private async applyChanges(
    version: ScaledVersion,
    state: VersionState,
    changes: readonly NodeScaleChange[],
  ): Promise<void> {
    const counts = this.countsOf(version) ?? {};
    try {
      const applied = await this.ports.apply(version, counts, changes);
      for (const [id, count] of Object.entries(applied))
        state.nodes.get(id)?.autoscaler.observe(count);
    } catch (error) {
      // Not applied: the replicas are what they were.
      for (const change of changes)
        state.nodes.get(change.workloadId)?.autoscaler.observe(change.from);
      throw error;
    }
  }
}
