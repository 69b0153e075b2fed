import type { KrtIssue } from './krt.errors.js';
import type { KrtReadStats } from './krt.limits.js';

/** What a node listens to: the workflow's entrypoint, or another node (optionally one channel). */
export interface KrtSubscription {
  /** A node name of the same workflow, or `entrypoint`. */
  node: string;
  channel?: string;
}

/** A NATS object store a node declares. */
export interface KrtObjectStore {
  name: string;
  scope: 'workflow' | 'project';
}

/** A node's per-replica limits (`memoryBytes`: bytes; `cpuMillis`: thousandths of a CPU). */
export interface KrtNodeResources {
  memoryBytes?: number;
  cpuMillis?: number;
}

/**
 * Adaptive batching (`batch: {maxSize, maxLatencyMs}`): the runner hands the node's batch handler
 * up to `maxSize` messages at once, or what it holds `maxLatencyMs` after the first arrived.
 */
export interface KrtNodeBatch {
  maxSize: number;
  maxLatencyMs: number;
}

/** One node of one workflow (v1 nodes are instantiated once per workflow that uses them). */
export interface KrtNode {
  /** Slug used in every derived name: the v2 name, or the slug of the v1 display name. */
  name: string;
  /** As written in the manifest (v1: `Execute DL Model`; v2: same as `name`). */
  displayName: string;
  image: string;
  /** The handler file, relative to the KRT root. */
  src: string;
  gpu: boolean;
  replicas: number;
  /**
   * Each replica's limits as the manifest sets them (`resources: {memory: 512Mi, cpu: 0.5}`);
   * what is absent is the installation's default. Within the runtime's quota.
   */
  resources?: KrtNodeResources;
  /** Optional adaptive batching (docs/krt.md, "Batching"); absent: one message per call. */
  batch?: KrtNodeBatch;
  subscriptions: KrtSubscription[];
  objectStore?: KrtObjectStore;
}

/** A workflow as a graph: the entrypoint rpc feeds nodes; the exitpoint node answers. */
export interface KrtWorkflow {
  name: string;
  displayName: string;
  /** The rpc of `service Entrypoint` that starts this workflow. */
  entrypoint: string;
  /** Name of the node whose output is the reply. */
  exitpoint: string;
  nodes: KrtNode[];
}

/** The normalised manifest: one model for KRT v1 and v2. */
export interface Krt {
  /** The form the manifest was written in. */
  krtVersion: 'v1' | 'v2';
  version: string;
  description: string;
  entrypoint: { proto: string; image: string };
  config: { variables: string[]; files: string[] };
  workflows: KrtWorkflow[];
  /** Rpcs declared by `service Entrypoint`. */
  rpcs: string[];
  /** Manifest file name at the KRT root (`kre.yaml`, `krt.yml`, ...). */
  manifest: string;
  /** Files under `docs/` (`docs/README.md` is the version's documentation). */
  docs: string[];
  /**
   * Folders (relative to the KRT root, `.` for the root) whose npm dependencies the engine
   * installs at start: each holds a package.json and a lockfile. Absent in versions stored
   * before it was recorded.
   */
  dependencies?: string[];
  /**
   * The `requirements.txt` files (relative to the KRT root) the engine installs Python nodes'
   * dependencies from: the root's and those beside a Python node's src that some node uses
   * (`requirementsFileOf`). Absent in versions stored before it was recorded.
   */
  requirements?: string[];
  warnings: KrtIssue[];
}

/** A validated KRT archive (or project folder). */
export interface KrtArchive {
  krt: Krt;
  /** Regular files, relative to the KRT root, sorted. */
  files: string[];
  /** The single top folder that wrapped everything, if any (stripped from every path). */
  topFolder?: string;
  stats: KrtReadStats;
}
