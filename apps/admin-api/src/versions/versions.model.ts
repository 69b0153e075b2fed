import { VersionStatus } from '@libs/core';
import { Field, ID, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { EntrypointAddress } from '../runtimes/runtimes.model.js';

registerEnumType(VersionStatus, {
  name: 'VersionStatus',
  description: 'Where a version is in its lifecycle (docs/lifecycle.md).',
});

/** Scale to zero (docs/lifecycle.md, "Sleep and wake"). */
export enum ScaleState {
  AWAKE = 'AWAKE',
  SLEEPING = 'SLEEPING',
  WAKING = 'WAKING',
}
registerEnumType(ScaleState, {
  name: 'ScaleState',
  description:
    'A running version: AWAKE (its workloads run), SLEEPING (released after its idle time; the next call wakes it) or WAKING.',
});

@ObjectType({ description: 'Scale to zero of a version (docs/lifecycle.md, "Sleep and wake").' })
export class VersionScale {
  @Field(() => ScaleState, {
    nullable: true,
    description: 'While the version runs (STARTED or PUBLISHED); null otherwise.',
  })
  state?: ScaleState | null;
  @Field(() => Int, {
    description: 'Replicas that run or start now: 0 while it sleeps or does not run.',
  })
  replicas!: number;
  @Field(() => Int, {
    nullable: true,
    description:
      "Seconds without a call before it sleeps, set for this version (0: never); null: the installation's default (VERSION_IDLE_SECONDS). Always null in watchNodeStatus.",
  })
  idleSeconds?: number | null;
}

@ObjectType({ description: 'A config variable or file of a version (values hidden from VIEWERs).' })
export class ConfigurationVariable {
  @Field() key!: string;
  @Field({ description: 'VARIABLE or FILE.' }) type!: string;
  @Field(() => String, {
    nullable: true,
    description: 'Null when not set, or when the caller is a VIEWER.',
  })
  value?: string | null;
  @Field({ description: 'Whether a value is set.' }) isSet!: boolean;
}

@ObjectType()
export class VersionConfig {
  @Field({ description: 'Every variable and file has a value: the version may start.' })
  completed!: boolean;
  @Field(() => [ConfigurationVariable]) vars!: ConfigurationVariable[];
}

@ObjectType()
export class NodeSubscription {
  @Field({ description: 'A node of the workflow, or `entrypoint`.' }) node!: string;
  @Field(() => String, { nullable: true }) channel?: string | null;
}

@ObjectType({
  description:
    'The replica bounds of a node or of the entrypoint, set by a MANAGER (docs/lifecycle.md, "Autoscaling").',
})
export class NodeAutoscale {
  @Field(() => Int, { description: 'The fewest replicas, and the starting count.' }) min!: number;
  @Field(() => Int, { description: 'The most (equal to min: a fixed count).' }) max!: number;
}

@ObjectType({
  description:
    'Adaptive batching from the KRT (docs/krt.md, "Batching"): the batch handler gets up to maxSize messages at once.',
})
export class NodeBatch {
  @Field(() => Int, { description: 'The most messages one call of the batch handler gets.' })
  maxSize!: number;
  @Field(() => Int, {
    description: 'How long after the first message a batch that is not full waits, in ms.',
  })
  maxLatencyMs!: number;
}

@ObjectType()
export class WorkflowNode {
  @Field({ description: 'The slug used in names.' }) name!: string;
  @Field() displayName!: string;
  @Field() image!: string;
  @Field() src!: string;
  @Field() gpu!: boolean;
  @Field(() => Int, { description: "The KRT's replicas (the count without autoscale bounds)." })
  replicas!: number;
  @Field(() => NodeAutoscale, {
    nullable: true,
    description:
      "Bounds the deployer scales the node within on its backlog (updateNodeAutoscale); null: the KRT's replicas.",
  })
  autoscale?: NodeAutoscale | null;
  @Field(() => NodeBatch, {
    nullable: true,
    description: "The KRT's batch settings; null: one message per call.",
  })
  batch?: NodeBatch | null;
  @Field(() => [NodeSubscription]) subscriptions!: NodeSubscription[];
}

@ObjectType()
export class Workflow {
  @Field() name!: string;
  @Field() displayName!: string;
  @Field({ description: 'The rpc of `service Entrypoint` that starts it.' }) entrypoint!: string;
  @Field() exitpoint!: string;
  @Field(() => [WorkflowNode]) nodes!: WorkflowNode[];
}

@ObjectType()
export class Version {
  @Field(() => ID, { description: '`<runtimeId>:<name>`' }) id!: string;
  @Field() runtimeId!: string;
  @Field() name!: string;
  @Field() description!: string;
  @Field(() => VersionStatus) status!: VersionStatus;
  @Field(() => [String], { description: 'Why the version is in ERROR (empty otherwise).' })
  errors!: string[];
  @Field({ description: 'v1 or v2: the form of the uploaded manifest.' }) krtVersion!: string;
  @Field() creationDate!: Date;
  @Field(() => ID) creationAuthor!: string;
  @Field(() => Date, { nullable: true }) publicationDate?: Date | null;
  @Field(() => ID, { nullable: true }) publicationAuthor?: string | null;
  @Field(() => VersionConfig) config!: VersionConfig;
  @Field(() => [Workflow]) workflows!: Workflow[];
  @Field(() => [String], {
    description: 'Files under docs/ in the KRT (read them with versionDocs).',
  })
  docs!: string[];
  @Field(() => EntrypointAddress, {
    nullable: true,
    description: 'Where this version answers while it runs.',
  })
  entrypointAddress?: EntrypointAddress | null;
  @Field(() => VersionScale, {
    description: 'Whether it is awake (scale to zero), and its idle time.',
  })
  scale!: VersionScale;
  @Field(() => NodeAutoscale, {
    nullable: true,
    description:
      'Bounds the deployer scales the entrypoint within on its calls in flight (updateEntrypointAutoscale); null: one replica.',
  })
  entrypointAutoscale?: NodeAutoscale | null;
}

@ObjectType({ description: 'A lifecycle event of a version (watchVersion).' })
export class VersionEvent {
  @Field() runtimeId!: string;
  @Field() versionName!: string;
  @Field(() => VersionStatus, { nullable: true }) status?: VersionStatus | null;
  @Field(() => String, {
    nullable: true,
    description: 'A job step (provision-nats, apply, wait-ready, …).',
  })
  step?: string | null;
  @Field(() => String, { nullable: true }) message?: string | null;
  @Field(() => VersionScale, {
    nullable: true,
    description: 'Scale to zero, as the event left it (the sleep and wake jobs report steps too).',
  })
  scale?: VersionScale | null;
  @Field() date!: Date;
}

/** KRE's node status (`watchNodeStatus`), summed up from the node's replicas. */
export enum NodeStatus {
  STARTING = 'STARTING',
  STARTED = 'STARTED',
  STOPPED = 'STOPPED',
  ERROR = 'ERROR',
}
registerEnumType(NodeStatus, {
  name: 'NodeStatus',
  description:
    'STARTED: every replica runs; STARTING: one is starting; ERROR: one crashed and waits to restart; STOPPED: none runs.',
});

/** One replica as the orchestrator sees it. */
export enum ReplicaState {
  STARTING = 'STARTING',
  RUNNING = 'RUNNING',
  RESTARTING = 'RESTARTING',
  STOPPED = 'STOPPED',
}
registerEnumType(ReplicaState, {
  name: 'ReplicaState',
  description: 'RESTARTING: it exited and the orchestrator restarts it (with backoff).',
});

@ObjectType()
export class ReplicaStatus {
  @Field(() => Int, { description: '0 … replicas-1.' }) replica!: number;
  @Field(() => ReplicaState) state!: ReplicaState;
  @Field(() => Int, {
    description: 'Restarts since it last ran steadily (the local driver resets it after 30 s).',
  })
  restarts!: number;
  @Field(() => String, {
    nullable: true,
    description: 'Why it last stopped: exit code or signal, with the tail of its output.',
  })
  message?: string | null;
}

@ObjectType({
  description:
    'How one workload of a version is doing (watchNodeStatus): sent for every node at once, then whenever one changes.',
})
export class NodeStatusEvent {
  @Field() runtimeId!: string;
  @Field() versionName!: string;
  @Field(() => ID, { description: '`entrypoint`, or `<workflow>.<node>`.' }) nodeId!: string;
  @Field({ description: 'The node (its slug), or `entrypoint`.' }) name!: string;
  @Field(() => String, { nullable: true, description: 'Null for the entrypoint.' })
  workflow?: string | null;
  @Field(() => NodeStatus) status!: NodeStatus;
  @Field(() => [ReplicaStatus], { description: 'Empty while the version does not run.' })
  replicas!: ReplicaStatus[];
  @Field(() => VersionScale, {
    nullable: true,
    description:
      "The version's scale to zero (every replica STOPPED while it sleeps); null when the deployer did not say.",
  })
  scale?: VersionScale | null;
  @Field({ description: 'When this state was first seen.' }) date!: Date;
}
