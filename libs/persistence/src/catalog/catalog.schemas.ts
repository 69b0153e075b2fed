import { Schema } from 'mongoose';
import type { Krt } from '@libs/krt';
import type { QuotaUsage, RuntimeQuota, VersionStatus } from '@libs/core';

/** `runtimes` in the platform database; `_id` is the runtime id. */
export interface RuntimeDoc {
  _id: string;
  name: string;
  description: string;
  status: 'CREATING' | 'CREATED' | 'DELETING' | 'ERROR';
  statusMessage?: string;
  createdAt: Date;
  createdBy: string;
  /**
   * Whether the gateway refuses calls without one of the runtime's invocation keys. New
   * runtimes get `true`; a runtime stored before keys existed has no field, which reads as
   * `false` (`requiresInvocationKey`): its clients keep working until an ADMIN turns it on.
   */
  requireInvocationKey?: boolean;
  /**
   * Bumped by every change of the runtime's keys or `requireInvocationKey`; the gateways' KV
   * entry carries the generation it was built from, so an older state never overwrites a newer.
   */
  invocationKeysGeneration?: number;
  /**
   * What the runtime's started versions may hold at once (issue #13), set by platform admins.
   * New runtimes get the installation's default; absent (a runtime from before quotas): the
   * installation's default applies, as `quotaOf` reads it.
   */
  quota?: StoredRuntimeQuota;
}

/** A stored quota: one set before the observability stream's fields existed lacks them. */
export type StoredRuntimeQuota = QuotaUsage &
  Partial<Pick<RuntimeQuota, 'obsBytes' | 'obsMaxAgeMs'>>;

/**
 * The runtime's quota: its own, else the installation's default; a quota stored before a field
 * existed (the observability stream's, issue #15) gets the default for that field.
 */
export function quotaOf(runtime: Pick<RuntimeDoc, 'quota'>, defaults: RuntimeQuota): RuntimeQuota {
  if (!runtime.quota) return defaults;
  const own = Object.entries(runtime.quota).filter(([, value]) => typeof value === 'number');
  return { ...defaults, ...(Object.fromEntries(own) as Partial<RuntimeQuota>) };
}

/** The one reading of `requireInvocationKey` (absent: a runtime from before keys, open). */
export function requiresInvocationKey(runtime: Pick<RuntimeDoc, 'requireInvocationKey'>): boolean {
  return runtime.requireInvocationKey ?? false;
}

export const runtimeSchema = new Schema<RuntimeDoc>(
  {
    _id: String,
    name: { type: String, required: true },
    description: { type: String, default: '' },
    status: { type: String, required: true },
    statusMessage: String,
    createdAt: { type: Date, required: true },
    createdBy: { type: String, required: true },
    requireInvocationKey: Boolean,
    invocationKeysGeneration: Number,
    quota: {
      type: new Schema(
        {
          replicas: Number,
          memoryBytes: Number,
          cpuMillis: Number,
          gpus: Number,
          storageBytes: Number,
          obsBytes: Number,
          obsMaxAgeMs: Number,
        },
        { _id: false },
      ),
      required: false,
    },
  },
  { versionKey: false, collection: 'runtimes' },
);

export interface ConfigValueDoc {
  key: string;
  type: 'VARIABLE' | 'FILE';
  /** AES-256-GCM sealed (ConfigCipher); absent when not set yet. */
  value?: string;
}

/**
 * The config keys that have no value yet. A version's config is complete when there are none:
 * the one place that decides it (the API's `completed`, the start mutation, the deployer).
 */
export function unsetConfigKeys(config: readonly ConfigValueDoc[]): string[] {
  return config.filter((entry) => entry.value === undefined).map((entry) => entry.key);
}

/** `versions`; `_id` is `<runtimeId>:<name>` (hot lookups stay `_id` lookups on FerretDB). */
export interface VersionDoc {
  _id: string;
  runtimeId: string;
  name: string;
  description: string;
  status: VersionStatus;
  statusMessage?: string;
  /** The normalised manifest. */
  krt: Krt;
  config: ConfigValueDoc[];
  krtSize: number;
  krtChunks: number;
  krtSha256: string;
  createdAt: Date;
  createdBy: string;
  publishedAt?: Date;
  publishedBy?: string;
  startedAt?: Date;
  updatedAt: Date;
  /** Scale to zero (docs/lifecycle.md, "Sleep and wake"). */
  scale?: VersionScaleDoc;
}

/**
 * A version's scale to zero: its own idle time (set by a MANAGER; absent: the installation's
 * default) and, while it runs, whether it is awake (written by the deployer).
 */
export interface VersionScaleDoc {
  /** Seconds without a call before its workloads are released; 0: never. */
  idleSeconds?: number;
  state?: 'AWAKE' | 'SLEEPING' | 'WAKING';
  /** Replicas running (or being started) in that state. */
  replicas?: number;
  /** When `state` was set. */
  since?: Date;
  /**
   * Node autoscaling bounds set by a MANAGER (docs/lifecycle.md, "Autoscaling"); a node not
   * listed runs its KRT `replicas`.
   */
  autoscale?: NodeAutoscaleDoc[];
  /**
   * The entrypoint's replica bounds set by a MANAGER, scaled on the calls in flight through the
   * gateways (docs/lifecycle.md, "Autoscaling"); absent: one replica.
   */
  entrypointAutoscale?: { min: number; max: number };
  /**
   * The replicas autoscaling last applied to its bounded workloads (`workload`:
   * `<workflow>.<node>`, or `entrypoint`; a list, as keys with dots are no field names on FerretDB) while the
   * version is awake, so a config roll on any deployer keeps them; cleared with every change of
   * `state` (a start, a sleep, a wake start from the bounds' min).
   */
  nodeReplicas?: { workload: string; replicas: number }[];
}

/** One node's replica bounds: `min` is also its starting count; `max == min`: not autoscaled. */
export interface NodeAutoscaleDoc {
  workflow: string;
  node: string;
  min: number;
  max: number;
}

export const versionSchema = new Schema<VersionDoc>(
  {
    _id: String,
    runtimeId: { type: String, required: true },
    name: { type: String, required: true },
    description: { type: String, default: '' },
    status: { type: String, required: true },
    statusMessage: String,
    krt: { type: Schema.Types.Mixed, required: true },
    config: [{ _id: false, key: String, type: { type: String }, value: String }],
    krtSize: Number,
    krtChunks: Number,
    krtSha256: String,
    createdAt: { type: Date, required: true },
    createdBy: { type: String, required: true },
    publishedAt: Date,
    publishedBy: String,
    startedAt: Date,
    updatedAt: { type: Date, required: true },
    scale: { type: Schema.Types.Mixed },
  },
  { versionKey: false, collection: 'versions', minimize: false },
);
versionSchema.index({ runtimeId: 1, createdAt: -1 });

/** `krt_chunks`: the uploaded archive, `_id` `<rt>:<ver>:<n>` (GridFS lookups scan on FerretDB). */
export interface KrtChunkDoc {
  _id: string;
  data: Buffer;
}

export const krtChunkSchema = new Schema<KrtChunkDoc>(
  { _id: String, data: { type: Buffer, required: true } },
  { versionKey: false, collection: 'krt_chunks' },
);
