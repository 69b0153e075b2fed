import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { Names } from '@libs/naming';

/**
 * Settings of a workflow's stream and consumers (ARCHITECTURE.md, "Streams and consumers").
 * Timeouts nest: the runner's handler timeout < the entrypoint's request timeout; a SIGKILLed
 * replica's message goes to another replica after `ackWaitMs`.
 */
export interface StreamSettings {
  /** How long a delivered message may go unacknowledged; runners extend it while they work. */
  ackWaitMs: number;
  /** Messages in flight per consumer (over all replicas of the node). */
  maxAckPending: number;
  /** Deliveries of one message before the request fails with an ERROR. */
  maxDeliver: number;
  /** Unconsumed messages older than this are dropped (they belong to long-gone requests). */
  maxAgeMs: number;
  /** Window in which a republished message id is dropped as a duplicate. */
  duplicateWindowMs: number;
  storage: 'file' | 'memory';
  replicas: number;
  /** The stream's `max_bytes` (-1: none); the runtime's storage quota counts it (issue #13). */
  maxBytes: number;
}

export const DEFAULT_STREAM_SETTINGS: Readonly<StreamSettings> = Object.freeze({
  ackWaitMs: 5_000,
  maxAckPending: 1_000,
  maxDeliver: 3,
  maxAgeMs: 60 * 60_000,
  duplicateWindowMs: 2 * 60_000,
  storage: 'file',
  replicas: 1,
  maxBytes: -1,
});

/** A node's input as KRT manifests declare it: `entrypoint`, `<node>` or `<node>.<channel>`. */
export interface SubscriptionSpec {
  node: string;
  channel?: string;
}

/** The workflow shape provisioning needs (structurally a `KrtWorkflow` of `@libs/krt`). */
export interface WorkflowSpec {
  name: string;
  nodes: readonly { name: string; subscriptions: readonly SubscriptionSpec[] }[];
}

/** One input of a node: the subject it reads and the durable consumer that delivers it. */
export interface NodeInput {
  subject: string;
  consumer: string;
  /** The node it comes from (`entrypoint` for the workflow's requests). */
  fromNode: string;
}

/** Everything a runner of one node is wired to. */
export interface NodeWiring {
  node: string;
  /** Its output subject (`KRT_NATS_OUTPUT`); channels are `<output>.<channel>`. */
  output: string;
  inputs: NodeInput[];
  /** `KRT_NATS_INPUTS`: comma-separated `subject=consumer` pairs. */
  natsInputs: string;
}

/** The stream and consumers of one workflow of one version, ready to apply. */
export interface WorkflowStreamsPlan {
  stream: string;
  /** Where the entrypoint publishes the workflow's requests. */
  entrySubject: string;
  streamConfig: Partial<StreamConfig> & { name: string; subjects: string[] };
  consumers: (Partial<ConsumerConfig> & { durable_name: string; filter_subject: string })[];
  nodes: Record<string, NodeWiring>;
}

/** A workflow that cannot be wired (unknown node, reserved name, bad channel). */
export class WorkflowWiringError extends Error {
  constructor(workflow: string, reason: string) {
    super(`workflow "${workflow}": ${reason}`);
    this.name = 'WorkflowWiringError';
  }
}

const TOKEN = /^[A-Za-z0-9_-]+$/;

/**
 * Plans a workflow's stream (interest retention, one subject tree) and one durable consumer per
 * (node, input). Pure: names come from `names`, settings from `settings`.
 * @throws WorkflowWiringError for subscriptions to unknown nodes, a node named `entrypoint`, or a
 * channel that is not a subject token.
 */
export function planWorkflowStreams(
  names: Names,
  runtimeId: string,
  version: string,
  workflow: WorkflowSpec,
  settings: Partial<StreamSettings> = {},
): WorkflowStreamsPlan {
  const s = { ...DEFAULT_STREAM_SETTINGS, ...settings };
  const wf = workflow.name;
  const stream = names.workflowStream(runtimeId, version, wf);
  const entrySubject = names.entrypointSubject(runtimeId, version, wf);
  const known = new Set(workflow.nodes.map((n) => n.name));
  if (known.has('entrypoint'))
    throw new WorkflowWiringError(wf, 'a node may not be named "entrypoint" (reserved)');
  const consumers: WorkflowStreamsPlan['consumers'] = [];
  const nodes: Record<string, NodeWiring> = {};
  for (const node of workflow.nodes) {
    const inputs: NodeInput[] = [];
    for (const sub of node.subscriptions) {
      if (sub.node !== 'entrypoint' && !known.has(sub.node))
        throw new WorkflowWiringError(
          wf,
          `node "${node.name}" subscribes to unknown node "${sub.node}"`,
        );
      if (sub.channel !== undefined && !TOKEN.test(sub.channel))
        throw new WorkflowWiringError(
          wf,
          `channel "${sub.channel}" of node "${node.name}" must be letters, digits, "_" or "-"`,
        );
      if (sub.node === 'entrypoint' && sub.channel)
        throw new WorkflowWiringError(wf, `node "${node.name}": the entrypoint has no channels`);
      const subject =
        sub.node === 'entrypoint'
          ? entrySubject
          : names.nodeSubject(runtimeId, version, wf, sub.node, sub.channel);
      const consumer = names.consumer(node.name, sub.node, sub.channel);
      if (inputs.some((i) => i.consumer === consumer))
        throw new WorkflowWiringError(wf, `node "${node.name}" subscribes twice to "${subject}"`);
      inputs.push({ subject, consumer, fromNode: sub.node });
      consumers.push({
        durable_name: consumer,
        filter_subject: subject,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        replay_policy: ReplayPolicy.Instant,
        ack_wait: nanos(s.ackWaitMs),
        max_ack_pending: s.maxAckPending,
        max_deliver: s.maxDeliver,
        mem_storage: s.storage === 'memory' ? true : undefined,
        num_replicas: s.replicas,
      });
    }
    nodes[node.name] = {
      node: node.name,
      output: names.nodeSubject(runtimeId, version, wf, node.name),
      inputs,
      natsInputs: inputs.map((i) => `${i.subject}=${i.consumer}`).join(','),
    };
  }
  return {
    stream,
    entrySubject,
    streamConfig: {
      name: stream,
      subjects: [`${names.workflowSubjectRoot(runtimeId, version, wf)}.>`],
      retention: RetentionPolicy.Interest,
      storage: s.storage === 'memory' ? StorageType.Memory : StorageType.File,
      num_replicas: s.replicas,
      max_age: nanos(s.maxAgeMs),
      duplicate_window: nanos(s.duplicateWindowMs),
      discard: DiscardPolicy.Old,
      max_msg_size: -1,
      max_bytes: s.maxBytes,
      allow_direct: true,
    },
    consumers,
    nodes,
  };
}

const isApiError = (error: unknown, code: number) =>
  error instanceof JetStreamApiError && error.code === code;

/**
 * Creates or updates the planned stream and consumers; safe to run again (a retried deploy
 * converges). Consumers are created by this function only: runners bind to them.
 */
export async function applyWorkflowStreams(
  jsm: JetStreamManager,
  plan: WorkflowStreamsPlan,
): Promise<void> {
  try {
    await jsm.streams.info(plan.stream);
    const { name, ...update } = plan.streamConfig;
    await jsm.streams.update(name, update);
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
    await jsm.streams.add(plan.streamConfig);
  }
  for (const consumer of plan.consumers) {
    try {
      await jsm.consumers.info(plan.stream, consumer.durable_name);
      const { ack_wait, max_ack_pending, max_deliver, filter_subject } = consumer;
      await jsm.consumers.update(plan.stream, consumer.durable_name, {
        ack_wait,
        max_ack_pending,
        max_deliver,
        filter_subject,
      });
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
      await jsm.consumers.add(plan.stream, consumer);
    }
  }
}

/**
 * The ONE provisioning function of a workflow's stream and consumers (deployer, tests, bench):
 * plans, applies idempotently, and returns the plan (with each node's runner wiring).
 */
export async function provisionWorkflowStreams(
  jsm: JetStreamManager,
  names: Names,
  runtimeId: string,
  version: string,
  workflow: WorkflowSpec,
  settings: Partial<StreamSettings> = {},
): Promise<WorkflowStreamsPlan> {
  const plan = planWorkflowStreams(names, runtimeId, version, workflow, settings);
  await applyWorkflowStreams(jsm, plan);
  return plan;
}

/** Deletes a workflow's stream (its consumers go with it); absent is fine. */
export async function deleteWorkflowStreams(
  jsm: JetStreamManager,
  names: Names,
  runtimeId: string,
  version: string,
  workflow: string,
): Promise<void> {
  try {
    await jsm.streams.delete(names.workflowStream(runtimeId, version, workflow));
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
  }
}

/** Limits of a runtime's observability stream: its quota's `obsBytes` and `obsMaxAgeMs`. */
export interface ObservabilityStreamLimits {
  maxBytes?: number;
  maxAgeMs?: number;
}

/** Today's limits when a caller (a test, the bench) gives none: the default quota's. */
const OBS_STREAM_DEFAULTS = { maxBytes: 1024 ** 3, maxAgeMs: 7 * 24 * 3_600_000 };
/** JetStream's default duplicate window; it may not be longer than the stream's `max_age`. */
const DUPLICATE_WINDOW_MS = 120_000;

function obsStreamLimits(limits: ObservabilityStreamLimits) {
  const maxAgeMs = limits.maxAgeMs ?? OBS_STREAM_DEFAULTS.maxAgeMs;
  return {
    max_age: nanos(maxAgeMs),
    max_bytes: limits.maxBytes ?? OBS_STREAM_DEFAULTS.maxBytes,
    duplicate_window: nanos(Math.min(DUPLICATE_WINDOW_MS, maxAgeMs)),
  };
}

/**
 * The runtime's observability stream `<P>_<rt>_OBS` over `<p>.<rt>.obs.>` (limits retention:
 * mongo-writer's consumers read it; past `maxBytes`, or older than `maxAgeMs`, the oldest
 * records are dropped, which mongo-writer counts). Idempotent: an existing stream gets these
 * limits.
 */
export async function provisionObservabilityStream(
  jsm: JetStreamManager,
  names: Names,
  runtimeId: string,
  options: ObservabilityStreamLimits & { storage?: 'file' | 'memory' } = {},
): Promise<string> {
  const config = {
    name: names.obsStream(runtimeId),
    subjects: [`${names.obsPrefix(runtimeId)}.>`],
    retention: RetentionPolicy.Limits,
    storage: options.storage === 'memory' ? StorageType.Memory : StorageType.File,
    ...obsStreamLimits(options),
    discard: DiscardPolicy.Old,
    allow_direct: true,
  };
  try {
    await jsm.streams.info(config.name);
    const { name, ...update } = config;
    await jsm.streams.update(name, update);
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
    await jsm.streams.add(config);
  }
  return config.name;
}

/**
 * Sets the limits of a runtime's existing observability stream in place (its quota changed);
 * shrinking drops the oldest records at once. Returns false when the stream does not exist
 * (yet, or any more): the runtime's creation makes it with the quota it reads then.
 */
export async function updateObservabilityStreamLimits(
  jsm: JetStreamManager,
  names: Names,
  runtimeId: string,
  limits: Required<ObservabilityStreamLimits>,
): Promise<boolean> {
  try {
    await jsm.streams.update(names.obsStream(runtimeId), obsStreamLimits(limits));
    return true;
  } catch (error) {
    if (isApiError(error, JetStreamApiCodes.StreamNotFound)) return false;
    throw error;
  }
}
