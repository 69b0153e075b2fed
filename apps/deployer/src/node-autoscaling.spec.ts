import { describe, expect, it } from 'vitest';
import {
  NodeAutoscaling,
  type NodeAutoscalingPorts,
  type NodeScaleChange,
  type ScaledVersion,
} from './node-autoscaling.js';

const ref = { runtimeId: 'demo', versionName: 'v1' };
const model = {
  workloadId: 'classify.model',
  bounds: { min: 1, max: 3 },
  inputs: [
    { stream: 's', consumer: 'model-from-etl' },
    { stream: 's', consumer: 'model-from-rules' },
  ],
};
const options = { target: 10, upAfterMs: 2_000, coolDownMs: 5_000 };
const entrypointOptions = { ...options, target: 4, measure: 'calls in flight' };

/** The deployer's side, in memory: a backlog per consumer and the replicas the driver runs. */
function fakeDeployer(version: Partial<ScaledVersion> = {}) {
  const state = {
    version: { ...ref, awake: true, nodes: [model], ...version },
    running: true,
    backlog: new Map<string, { pending: number; ackPending: number; acked?: number }>(),
    /** The version's calls in flight through the gateways. */
    inFlight: 0,
    replicas: { entrypoint: 1, 'classify.model': 1 } as Record<string, number>,
    applies: [] as { counts: Record<string, number>; changes: readonly NodeScaleChange[] }[],
    /** At most this many replicas of a node fit (the quota, as `apply` caps it). */
    cap: Number.POSITIVE_INFINITY,
    fail: false,
    release: undefined as (() => void) | undefined,
  };
  const ports: NodeAutoscalingPorts = {
    running: () => Promise.resolve(state.running ? [state.version] : []),
    backlog: (input) =>
      Promise.resolve({
        acked: 0,
        ...(state.backlog.get(input.consumer) ?? { pending: 0, ackPending: 0 }),
      }),
    inFlight: () => state.inFlight,
    replicasOf: () => Promise.resolve({ ...state.replicas }),
    apply: async (_ref, counts, changes) => {
      if (state.release) await new Promise<void>((resolve) => (state.release = resolve));
      if (state.fail) throw new Error('apply failed');
      const applied = Object.fromEntries(
        Object.entries(counts).map(([id, n]) => [id, Math.min(n, state.cap)]),
      );
      state.applies.push({ counts: applied, changes });
      Object.assign(state.replicas, applied);
      return applied;
    },
  };
  return { state, ports };
}

/** Ticks once a second from `from` (ms) to `to`, waiting for the applies each tick begins. */
async function run(sut: NodeAutoscaling, from: number, to: number): Promise<void> {
  for (let at = from; at <= to; at += 1_000) {
    await sut.tick(at);
    await sut.settled();
  }
}

describe(NodeAutoscaling.name, () => {
  it("sums the node's consumers, scales out after a sustained backlog, and back to min after the cool-down", async () => {
    const { state, ports } = fakeDeployer();
    const sut = new NodeAutoscaling(ports, options, entrypointOptions);
    // 25 + 10 waiting or held: 4 wanted, clamped to max 3; at most doubling plus one from 1.
    state.backlog.set('model-from-etl', { pending: 20, ackPending: 5 });
    state.backlog.set('model-from-rules', { pending: 0, ackPending: 10 });
    await run(sut, 0, 1_000);
    expect(state.applies).toEqual([]);
    await run(sut, 2_000, 2_000);
    expect(state.applies).toEqual([
      {
        counts: { 'classify.model': 3 },
        changes: [
          {
            workloadId: 'classify.model',
            from: 1,
            to: 3,
            reason: expect.stringMatching(/^backlog 35 for 2 s wants 3/) as string,
          },
        ],
      },
    ]);
    expect(sut.countsOf(ref)).toEqual({ 'classify.model': 3 });

    state.backlog.clear();
    await run(sut, 3_000, 7_000);
    expect(state.applies).toHaveLength(1);
    await run(sut, 8_000, 8_000);
    expect(state.applies[1]).toEqual({
      counts: { 'classify.model': 1 },
      changes: [
        expect.objectContaining({
          from: 3,
          to: 1,
          reason: expect.stringMatching(/for 5 s/) as string,
        }),
      ],
    });
    expect(state.replicas['classify.model']).toBe(1);
  });

  it('keeps the count apply could fit (the quota) and the one it had when apply fails', async () => {
    const { state, ports } = fakeDeployer();
    const errors: unknown[] = [];
    const sut = new NodeAutoscaling(ports, options, entrypointOptions, (_ref, e) => errors.push(e));
    state.backlog.set('model-from-etl', { pending: 100, ackPending: 0 });
    state.cap = 2;
    await run(sut, 0, 2_000);
    expect(state.applies.map((a) => a.counts)).toEqual([{ 'classify.model': 2 }]);
    expect(sut.countsOf(ref)).toEqual({ 'classify.model': 2 });

    state.cap = Number.POSITIVE_INFINITY;
    state.fail = true;
    await run(sut, 3_000, 4_000);
    expect(errors).toEqual([new Error('apply failed')]);
    expect(sut.countsOf(ref)).toEqual({ 'classify.model': 2 });
  });

  it('samples no version while its apply runs', async () => {
    const { state, ports } = fakeDeployer();
    const sut = new NodeAutoscaling(ports, options, entrypointOptions);
    state.backlog.set('model-from-etl', { pending: 100, ackPending: 0 });
    for (const at of [0, 1_000]) await sut.tick(at);
    state.release = () => undefined; // the next apply waits until released
    await sut.tick(2_000);
    const release = state.release;
    let sampled = 0;
    const backlog = ports.backlog;
    ports.backlog = (input) => {
      sampled++;
      return backlog(input);
    };
    await sut.tick(3_000);
    expect(sampled).toBe(0);
    state.release = undefined;
    release();
    await sut.settled();
    await sut.tick(4_000);
    expect(sampled).toBe(2);
  });

  it('drops a sleeping version and wakes it at min; adopts the count of a version it finds running', async () => {
    const { state, ports } = fakeDeployer();
    state.replicas['classify.model'] = 2;
    const sut = new NodeAutoscaling(ports, options, entrypointOptions);
    await run(sut, 0, 0);
    // A deployer that restarts keeps what runs within the bounds.
    expect(state.applies).toEqual([]);
    expect(sut.countsOf(ref)).toEqual({ 'classify.model': 2 });

    state.version = { ...state.version, awake: false };
    await run(sut, 1_000, 1_000);
    expect(sut.countsOf(ref)).toBeUndefined();
    // The wake brought back the replicas it released.
    state.version = { ...state.version, awake: true };
    await run(sut, 2_000, 2_000);
    expect(state.applies).toEqual([
      {
        counts: { 'classify.model': 1 },
        changes: [{ workloadId: 'classify.model', from: 2, to: 1, reason: 'woken: back to min 1' }],
      },
    ]);

    state.running = false;
    await run(sut, 3_000, 3_000);
    expect(sut.countsOf(ref)).toBeUndefined();
  });

  it('moves a node into new bounds at once, and never samples a node whose min is its max', async () => {
    const { state, ports } = fakeDeployer();
    const sut = new NodeAutoscaling(ports, options, entrypointOptions);
    await run(sut, 0, 0);
    let sampled = 0;
    const backlog = ports.backlog;
    ports.backlog = (input) => {
      sampled++;
      return backlog(input);
    };
    state.version = { ...state.version, nodes: [{ ...model, bounds: { min: 2, max: 2 } }] };
    await run(sut, 1_000, 3_000);
    expect(state.applies).toEqual([
      {
        counts: { 'classify.model': 2 },
        changes: [{ workloadId: 'classify.model', from: 1, to: 2, reason: 'bounds set to 2..2' }],
      },
    ]);
    expect(sampled).toBe(0);
  });

  it('scales the entrypoint on its calls in flight with its own target, beside the nodes', async () => {
    const entrypoint = { workloadId: 'entrypoint', bounds: { min: 1, max: 4 }, inputs: [] };
    const { state, ports } = fakeDeployer({ nodes: [entrypoint, model] });
    const sut = new NodeAutoscaling(ports, options, entrypointOptions);
    let sampledBacklog = 0;
    const backlog = ports.backlog;
    ports.backlog = (input) => {
      sampledBacklog++;
      return backlog(input);
    };
    // 10 calls in flight: 3 replicas at 4 each (the nodes' target of 10 would want 1).
    state.inFlight = 10;
    await run(sut, 0, 2_000);
    expect(state.applies).toEqual([
      {
        counts: { entrypoint: 3, 'classify.model': 1 },
        changes: [
          {
            workloadId: 'entrypoint',
            from: 1,
            to: 3,
            reason: 'calls in flight 10 for 2 s wants 3 (target 4 per replica)',
          },
        ],
      },
    ]);
    // Only the node's consumers are read (two per tick): the entrypoint has none.
    expect(sampledBacklog).toBe(6);
    // The calls end: one cool-down later, back to one replica.
    state.inFlight = 0;
    await run(sut, 3_000, 8_000);
    expect(state.applies.map((a) => a.counts.entrypoint)).toEqual([3, 1]);
    expect(sut.countsOf(ref)).toEqual({ entrypoint: 1, 'classify.model': 1 });
  });

  it('scales a slow node on its pace: what waits is to be handled within drainSeconds at the rate its replicas ack', async () => {
    const { state, ports } = fakeDeployer({ nodes: [{ ...model, bounds: { min: 1, max: 5 } }] });
    // A target backlog this high never asks for more: the pace alone does.
    const sut = new NodeAutoscaling(
      ports,
      { ...options, target: 1_000, drainSeconds: 10 },
      entrypointOptions,
    );
    // One replica acks 2 messages a second (a 0.5 s handler, one at a time); 100 wait.
    let acked = 0;
    for (let at = 0; at <= 3_000; at += 1_000) {
      state.backlog.set('model-from-etl', { pending: 100, ackPending: 1, acked });
      acked += 2;
      await sut.tick(at);
      await sut.settled();
    }
    expect(state.applies).toEqual([
      {
        counts: { 'classify.model': 3 },
        changes: [
          {
            workloadId: 'classify.model',
            from: 1,
            to: 3,
            // ceil(100 / (2 × 10)) = 5 wanted; at most doubling plus one per step.
            reason:
              'backlog 101 for 2 s wants 5 (100 waiting at 2/s per replica, to be handled within 10 s)',
          },
        ],
      },
    ]);
  });

  it('measures the pace from a consumer made again from its new count', async () => {
    const { state, ports } = fakeDeployer();
    const sut = new NodeAutoscaling(
      ports,
      { ...options, target: 1_000, drainSeconds: 1 },
      entrypointOptions,
    );
    // The consumer was made again at 1 s (its count went back); then 20 acks a second.
    const acks = [500, 10, 30, 50, 70];
    for (const [i, acked] of acks.entries()) {
      state.backlog.set('model-from-etl', { pending: 50, ackPending: 0, acked });
      await sut.tick(i * 1_000);
      await sut.settled();
    }
    // 50 waiting at 20/s, within 1 s: 3 replicas (from the samples at 2, 3 and 4 s).
    expect(state.applies.map((a) => a.counts)).toEqual([{ 'classify.model': 3 }]);
  });
});
