import { Inject, Injectable, Logger, Optional, type OnModuleDestroy } from '@nestjs/common';
import { DeployerClient, type NodeStatusReply, type WorkloadReplicaStatus } from '@libs/messaging';
import type { VersionDoc } from '@libs/persistence';
import { SubscriptionQueue } from '../common/subscription-queue.js';
import {
  NodeStatus,
  type NodeStatusEvent,
  ReplicaState,
  type ScaleState,
  type VersionScale,
} from './versions.model.js';

/** How often a watched version's status is asked of the deployer (the default pause). */
export const NODE_STATUS_POLL_MS = 2_000;
/** How long one request may take; a deployer that does not answer in time counts as unreachable. */
const REQUEST_TIMEOUT_MS = 1_500;

/** A workload of a version: the entrypoint or a node of a workflow. */
export interface WorkloadRef {
  nodeId: string;
  name: string;
  workflow: string | null;
}

/** The version's workloads, from its KRT: `entrypoint`, then `<workflow>.<node>` in order. */
export function workloadsOf(version: Pick<VersionDoc, 'krt'>): WorkloadRef[] {
  return [
    { nodeId: 'entrypoint', name: 'entrypoint', workflow: null },
    ...version.krt.workflows.flatMap((wf) =>
      wf.nodes.map((node) => ({
        nodeId: `${wf.name}.${node.name}`,
        name: node.name,
        workflow: wf.name,
      })),
    ),
  ];
}

/** KRE's node status, summed up from the replicas (none: STOPPED). */
export function nodeStatusOf(replicas: readonly { state: ReplicaState }[]): NodeStatus {
  if (replicas.every((r) => r.state === ReplicaState.STOPPED)) return NodeStatus.STOPPED;
  if (replicas.some((r) => r.state === ReplicaState.RESTARTING)) return NodeStatus.ERROR;
  if (replicas.some((r) => r.state === ReplicaState.STARTING)) return NodeStatus.STARTING;
  return NodeStatus.STARTED;
}

/**
 * One event per workload: the KRT's workloads (so a version that does not run shows every node
 * STOPPED), plus any the orchestrator reports that the KRT does not name.
 */
export function nodeStatusEvents(
  runtimeId: string,
  versionName: string,
  workloads: readonly WorkloadRef[],
  replicas: readonly WorkloadReplicaStatus[],
  date: Date,
  scale: NodeStatusReply['scale'] = null,
): NodeStatusEvent[] {
  const versionScale: VersionScale | null = scale
    ? { state: scale.state as ScaleState, replicas: scale.replicas, idleSeconds: null }
    : null;
  const known = new Set(workloads.map((w) => w.nodeId));
  const extra = [...new Set(replicas.map((r) => r.workloadId))]
    .filter((id) => !known.has(id))
    .map((id) => ({ nodeId: id, name: id.split('.').at(-1) ?? id, workflow: null }));
  return [...workloads, ...extra].map((workload) => {
    const own = replicas
      .filter((r) => r.workloadId === workload.nodeId)
      .sort((a, b) => a.replica - b.replica)
      .map((r) => ({
        replica: r.replica,
        state: r.state as ReplicaState,
        restarts: r.restarts,
        message: r.message ?? null,
      }));
    return {
      runtimeId,
      versionName,
      ...workload,
      status: nodeStatusOf(own),
      replicas: own,
      scale: versionScale,
      date,
    };
  });
}

/** What makes two events of a node differ (everything but the date). */
function fingerprint(event: NodeStatusEvent): string {
  return JSON.stringify([event.status, event.replicas, event.scale?.state ?? null]);
}

/**
 * Waits between two polls of a watched version; resolves early once `signal` aborts (the last
 * subscriber left). Injected (NODE_STATUS_PAUSE) so tests decide when the next poll happens.
 */
export type NodeStatusPause = (signal: AbortSignal) => Promise<void>;
export const NODE_STATUS_PAUSE = Symbol('NODE_STATUS_PAUSE');

/** The production pause: `ms` of wall-clock time. */
export function pauseFor(ms: number): NodeStatusPause {
  return (signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done);
    });
}

/** One watched version: polls while it has subscribers, remembers the last state of each node. */
class VersionPoller {
  readonly subscribers = new Set<SubscriptionQueue<NodeStatusEvent>>();
  readonly current = new Map<string, { event: NodeStatusEvent; fingerprint: string }>();
  /** The last request failed (logged once per outage, not once per poll). */
  failing = false;
  private readonly stopping = new AbortController();

  constructor(
    readonly runtimeId: string,
    readonly versionName: string,
    private readonly workloads: WorkloadRef[],
    private readonly ask: (poller: VersionPoller) => Promise<NodeStatusReply | null>,
    private readonly pause: NodeStatusPause,
  ) {}

  /** Polls at once, then once per pause after each answer (never two in flight). */
  async run(): Promise<void> {
    const { signal } = this.stopping;
    while (!signal.aborted) {
      const reply = await this.ask(this);
      if (signal.aborted) return;
      if (reply) this.publish(reply);
      await this.pause(signal);
    }
  }

  stop(): void {
    this.stopping.abort();
    for (const subscriber of [...this.subscribers]) subscriber.end();
  }

  private publish({ replicas, scale }: NodeStatusReply): void {
    const events = nodeStatusEvents(
      this.runtimeId,
      this.versionName,
      this.workloads,
      replicas,
      new Date(),
      scale,
    );
    // A workload the KRT does not name, once seen, stays listed: it goes STOPPED when it is gone.
    for (const { nodeId, name, workflow } of events.slice(this.workloads.length))
      this.workloads.push({ nodeId, name, workflow: workflow ?? null });
    for (const event of events) {
      const print = fingerprint(event);
      if (this.current.get(event.nodeId)?.fingerprint === print) continue;
      this.current.set(event.nodeId, { event, fingerprint: print });
      for (const subscriber of this.subscribers) subscriber.push(event);
    }
  }
}

/**
 * Feeds `watchNodeStatus`. The admin API never drives the orchestrator: it asks the deployer
 * (`<p>.svc.deployer.node-status`, Nest NATS transport) every NODE_STATUS_POLL_MS, once per
 * watched version however many subscribe, and stops asking when the last one leaves. Each
 * subscriber gets every node at once (as last seen), then each node whose state changed. While
 * the deployer does not answer, nothing new is sent and the subscriptions stay open.
 */
@Injectable()
export class NodeStatusService implements OnModuleDestroy {
  private readonly logger = new Logger(NodeStatusService.name);
  private readonly pollers = new Map<string, VersionPoller>();
  private readonly pause: NodeStatusPause;

  constructor(
    private readonly deployer: DeployerClient,
    @Optional() @Inject(NODE_STATUS_PAUSE) pause?: NodeStatusPause,
  ) {
    this.pause = pause ?? pauseFor(NODE_STATUS_POLL_MS);
  }

  /** Node statuses of one version (the resolver has checked the caller's role and the version). */
  subscribe(
    version: Pick<VersionDoc, 'runtimeId' | 'name' | 'krt'>,
  ): SubscriptionQueue<NodeStatusEvent> {
    const key = `${version.runtimeId}:${version.name}`;
    const owner = this.pollers.get(key) ?? this.watch(key, version);
    // Latest per node: a slow client skips states of a node, never grows memory.
    const subscriber: SubscriptionQueue<NodeStatusEvent> = new SubscriptionQueue<NodeStatusEvent>({
      name: `watchNodeStatus ${key}`,
      keyOf: (event) => event.nodeId,
      onEnd: () => {
        owner.subscribers.delete(subscriber);
        if (owner.subscribers.size === 0) this.forget(key, owner);
      },
    });
    owner.subscribers.add(subscriber);
    for (const { event } of owner.current.values()) subscriber.push(event);
    return subscriber;
  }

  /** Versions being polled now (for tests and diagnostics). */
  watched(): string[] {
    return [...this.pollers.keys()];
  }

  onModuleDestroy(): void {
    for (const poller of [...this.pollers.values()]) poller.stop();
    this.pollers.clear();
  }

  /** Starts polling a version. */
  private watch(key: string, version: Pick<VersionDoc, 'runtimeId' | 'name' | 'krt'>) {
    const poller = new VersionPoller(
      version.runtimeId,
      version.name,
      workloadsOf(version),
      (p) => this.ask(p),
      this.pause,
    );
    this.pollers.set(key, poller);
    poller.run().catch((error: unknown) => {
      this.logger.error(`node status of ${key}: polling stopped: ${String(error)}`);
      this.forget(key, poller);
    });
    return poller;
  }

  /** Stops polling the version, if `poller` is still the one polling it. */
  private forget(key: string, poller: VersionPoller): void {
    if (this.pollers.get(key) !== poller) return;
    this.pollers.delete(key);
    poller.stop();
  }

  private async ask(poller: VersionPoller): Promise<NodeStatusReply | null> {
    try {
      const reply = await this.deployer.versionStatus(
        poller.runtimeId,
        poller.versionName,
        REQUEST_TIMEOUT_MS,
      );
      if (poller.failing) {
        poller.failing = false;
        this.logger.log(
          `node status of ${poller.runtimeId}/${poller.versionName}: the deployer answers again`,
        );
      }
      return reply;
    } catch (error) {
      if (!poller.failing) {
        poller.failing = true;
        this.logger.warn(
          `no node status from the deployer (${poller.runtimeId}/${poller.versionName}): ${
            error instanceof Error ? error.message : String(error)
          }; watchNodeStatus subscribers get nothing new until it answers`,
        );
      }
      return null;
    }
  }
}
