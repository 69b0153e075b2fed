import { afterEach, describe, expect, it, vi } from 'vitest';
import { nodeStatusEvents, nodeStatusOf, pauseFor, workloadsOf } from './node-status.service.js';
import { NodeStatus, ReplicaState } from './versions.model.js';

describe(nodeStatusOf.name, () => {
  const of = (...states: ReplicaState[]) => nodeStatusOf(states.map((state) => ({ state })));

  it("sums the replicas up as KRE's node status", () => {
    expect(of()).toBe(NodeStatus.STOPPED);
    expect(of(ReplicaState.STOPPED, ReplicaState.STOPPED)).toBe(NodeStatus.STOPPED);
    expect(of(ReplicaState.RUNNING, ReplicaState.RUNNING)).toBe(NodeStatus.STARTED);
    expect(of(ReplicaState.RUNNING, ReplicaState.STARTING)).toBe(NodeStatus.STARTING);
    expect(of(ReplicaState.STARTING, ReplicaState.RESTARTING)).toBe(NodeStatus.ERROR);
  });
});

describe(nodeStatusEvents.name, () => {
  const workloads = workloadsOf({
    krt: { workflows: [{ name: 'wf', nodes: [{ name: 'a' }, { name: 'b' }] }] },
  } as never);
  const date = new Date(0);

  it('names every workload of the KRT, entrypoint first, STOPPED when nothing runs', () => {
    expect(nodeStatusEvents('rt', 'v1', workloads, [], date)).toEqual(
      [
        ['entrypoint', 'entrypoint', null],
        ['wf.a', 'a', 'wf'],
        ['wf.b', 'b', 'wf'],
      ].map(([nodeId, name, workflow]) => ({
        runtimeId: 'rt',
        versionName: 'v1',
        nodeId,
        name,
        workflow,
        status: NodeStatus.STOPPED,
        replicas: [],
        scale: null,
        date,
      })),
    );
  });

  it("carries the version's scale to zero on every node's event", () => {
    const events = nodeStatusEvents(
      'rt',
      'v1',
      workloads,
      [{ workloadId: 'wf.a', replica: 0, state: 'STOPPED', restarts: 0 }],
      date,
      { state: 'SLEEPING', replicas: 0 },
    );
    expect(events.map((e) => e.scale)).toEqual(
      Array(3).fill({ state: 'SLEEPING', replicas: 0, idleSeconds: null }),
    );
    expect(events.map((e) => e.status)).toEqual(Array(3).fill(NodeStatus.STOPPED));
  });

  it("gives each workload its replicas in order, and keeps what the KRT doesn't name", () => {
    const events = nodeStatusEvents(
      'rt',
      'v1',
      workloads,
      [
        { workloadId: 'wf.a', replica: 1, state: 'STARTING', restarts: 0 },
        { workloadId: 'wf.a', replica: 0, state: 'RUNNING', restarts: 2, message: 'exited 1' },
        { workloadId: 'old.c', replica: 0, state: 'RUNNING', restarts: 0, message: null },
      ],
      date,
    );
    expect(events.find((e) => e.nodeId === 'wf.a')).toMatchObject({
      status: NodeStatus.STARTING,
      replicas: [
        { replica: 0, state: 'RUNNING', restarts: 2, message: 'exited 1' },
        { replica: 1, state: 'STARTING', restarts: 0, message: null },
      ],
    });
    expect(events.at(-1)).toMatchObject({ nodeId: 'old.c', name: 'c', status: NodeStatus.STARTED });
  });
});

describe(pauseFor.name, () => {
  afterEach(() => vi.useRealTimers());

  it('waits its time, or ends at once when the last subscriber leaves (abort)', async () => {
    vi.useFakeTimers();
    const stopping = new AbortController();
    let over = false;
    void pauseFor(2_000)(stopping.signal).then(() => (over = true));
    await vi.advanceTimersByTimeAsync(1_999);
    expect(over).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(over).toBe(true);

    let cut = false;
    void pauseFor(2_000)(stopping.signal).then(() => (cut = true));
    stopping.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(cut).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    await expect(pauseFor(2_000)(stopping.signal)).resolves.toBeUndefined(); // already aborted
  });
});
