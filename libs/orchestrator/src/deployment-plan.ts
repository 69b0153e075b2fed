import { createHash } from 'node:crypto';
import type { ReplicaResources, RuntimeQuota } from '@libs/core';
import {
  ConfigMasker,
  entrypointWorkloadEnv,
  plannedWorkloadEnv,
  runnerWorkloadEnv,
} from '@libs/config';
import { type Krt, type KrtNode, nodeRuntime, requirementsFileOf } from '@libs/krt';
import {
  planVersionResources,
  type StoreMaxBytes,
  type StreamSettings,
  type VersionPins,
  type VersionResources,
} from '@libs/messaging';
import { Names, keys } from '@libs/naming';

/** Named ports a workload listens on; the driver picks the numbers (`KRT_<NAME>_PORT`). */
export type PortName = 'grpc' | 'http' | 'health';

/** One workload of a version: the entrypoint, or one node of one workflow (with its replicas). */
/** The id of a version's entrypoint workload (its nodes' are `<workflow>.<node>`). */
export const ENTRYPOINT_WORKLOAD = 'entrypoint';

export interface WorkloadSpec {
  /** Stable id within the version: `entrypoint` or `<workflow>.<node>`. */
  readonly id: string;
  readonly role: 'entrypoint' | 'node';
  /** Which of our programs runs it (`runner-python`: a node of KRE's Python runner image). */
  readonly program: 'entrypoint' | 'runner' | 'runner-python';
  /** A Python node's requirements file in the KRT (`requirementsFileOf`), if it has one. */
  readonly requirements?: string;
  /** The KRT's image (Kubernetes maps it to ours). */
  readonly image: string;
  readonly replicas: number;
  readonly gpu: boolean;
  /**
   * Each replica's limits: the node's `resources` in the KRT, else the installation's default
   * (`PlanInput.replicaDefaults`). The local driver's cgroups and Kubernetes' container limits.
   * `plan()` always sets it; absent (a hand-made spec): the driver's own default.
   */
  readonly resources?: ReplicaResources;
  readonly ports: readonly PortName[];
  /**
   * The workload env of docs/architecture.md, except what the driver decides: the ports,
   * `KRT_BASE_PATH`, `KRT_CONFIG_FILES_DIR` and `KRT_NATS_CREDS`.
   */
  readonly env: Readonly<Record<string, string>>;
  /**
   * Config files (name → content), written under `KRT_CONFIG_FILES_DIR`; each is also in `env`
   * unless larger than MAX_CONFIG_ENV_BYTES.
   */
  readonly configFiles: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  /** Kubernetes object name (`v-<slug>-<hash>`). */
  readonly k8sName: string;
  /** Hash of everything above: a running workload with another hash is replaced. */
  readonly specHash: string;
}

/** rpc → where the entrypoint sends its requests. */
export type EntrypointRoutes = Record<
  string,
  { workflow: string; stream: string; subject: string }
>;

/** Everything a driver and the NATS provisioning need to run one version. */
export interface DeploymentPlan {
  readonly prefix: string;
  readonly runtimeId: string;
  readonly versionName: string;
  readonly workloads: readonly WorkloadSpec[];
  /**
   * Everything NATS holds for the version (streams, consumers, KV buckets, object stores, the
   * KRT copy): the one list that provisioning and removal are driven by.
   */
  readonly resources: VersionResources;
  /** Object store holding the prepared KRT (key: the version name). */
  readonly krtBucket: string;
  readonly routes: EntrypointRoutes;
  /**
   * What the deployer pinned for the version (its NATS credentials, its KRT copy's digest),
   * attached before `apply`; secret, and outside every spec hash (a new digest is not a new spec).
   */
  readonly pins?: VersionPins;
  /**
   * The runtime's quota when the deployer checked this plan against it (attached before
   * `apply`, outside every spec hash): Kubernetes renders the namespace's ResourceQuota from it.
   */
  readonly quota?: RuntimeQuota;
}

/** Resolved config values of a version (decrypted; never logged). */
export interface PlanConfig {
  readonly variables: Readonly<Record<string, string>>;
  readonly files: Readonly<Record<string, string>>;
}

export interface PlanInput {
  readonly prefix: string;
  readonly runtimeId: string;
  readonly krt: Krt;
  readonly natsUrl: string;
  readonly config: PlanConfig;
  /** Seconds the entrypoint waits for a workflow's reply (`KRT_REQUEST_TIMEOUT`). */
  readonly requestTimeoutSeconds: number;
  /** Overrides of the workflow streams' settings. */
  readonly streamSettings?: Partial<StreamSettings>;
  /**
   * A replica's limits where the KRT sets none (the deployer: WORKLOAD_MEMORY_MB, WORKLOAD_CPUS);
   * default DEFAULT_REPLICA_RESOURCES.
   */
  readonly replicaDefaults?: ReplicaResources;
  /** `max_bytes` of the version's KV buckets and object stores (absent: unbounded). */
  readonly storeMaxBytes?: StoreMaxBytes;
  /**
   * Replicas other than the KRT's `replicas` (a node) or one (the entrypoint), keyed by workload
   * id (`<workflow>.<node>`, `entrypoint`): autoscaling (docs/lifecycle.md, "Autoscaling"). The
   * count is outside the spec hash, so a driver keeps the running replicas and adds or removes
   * the difference.
   */
  readonly replicas?: Readonly<Record<string, number>>;
  /**
   * Traces are exported (the deployer has an OTLP endpoint): the workloads relay their spans over
   * NATS on their runtime's traces subject (`KRT_NATS_TRACES_SUBJECT`), a batch every
   * `scheduleDelayMs`; mongo-writer forwards them (docs/observability.md, "Traces").
   */
  readonly tracing?: { readonly scheduleDelayMs: number };
}

/** The installation's default limits of one replica (WORKLOAD_MEMORY_MB and WORKLOAD_CPUS's). */
export const DEFAULT_REPLICA_RESOURCES: ReplicaResources = Object.freeze({
  memoryBytes: 1_024 * 2 ** 20,
  cpuMillis: 1_000,
});

/** One replica's limits: what the node's `resources` set, the installation's default for the rest. */
export function replicaResources(
  node: Pick<KrtNode, 'resources'> | undefined,
  defaults: ReplicaResources,
): ReplicaResources {
  return {
    memoryBytes: node?.resources?.memoryBytes ?? defaults.memoryBytes,
    cpuMillis: node?.resources?.cpuMillis ?? defaults.cpuMillis,
  };
}

/**
 * Largest config value (UTF-8 bytes) also exported as an environment variable. Linux refuses a
 * single `NAME=value` string over 128 KiB (MAX_ARG_STRLEN) at exec, so a larger value would keep
 * the workload from starting; a larger file is only written under `KRT_CONFIG_FILES_DIR`.
 */
export const MAX_CONFIG_ENV_BYTES = 100 * 1024;

/** A config variable too large for the environment (variables have no file to fall back on). */
export class ConfigVariableTooLargeError extends Error {
  constructor(key: string, bytes: number) {
    super(
      `config variable "${key}" is ${Math.ceil(bytes / 1024)} KiB, over the ${MAX_CONFIG_ENV_BYTES / 1024} KiB a variable may hold (it is passed as an environment variable): set a smaller value, or declare it under config.files in the manifest`,
    );
    this.name = new.target.name;
  }
}

/** What of the config becomes env: every variable, and each file small enough. */
function configEnvOf(config: PlanConfig): Record<string, string> {
  for (const [key, value] of Object.entries(config.variables)) {
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > MAX_CONFIG_ENV_BYTES) throw new ConfigVariableTooLargeError(key, bytes);
  }
  const files = Object.entries(config.files).filter(
    ([, content]) => Buffer.byteLength(content, 'utf8') <= MAX_CONFIG_ENV_BYTES,
  );
  return { ...config.variables, ...Object.fromEntries(files) };
}

/**
 * What masks the version's config in its workloads' output that the engine shows (the output
 * tails in version errors and node status): the same values the workloads mask themselves.
 */
export function configMaskerOf(plan: DeploymentPlan): ConfigMasker {
  const [first] = plan.workloads;
  if (!first) return new ConfigMasker([]);
  const keys = (first.env.KRT_CONFIG_KEYS ?? '').split(',').filter(Boolean);
  return new ConfigMasker([
    ...keys.map((key) => first.env[key] ?? ''),
    ...Object.values(first.configFiles),
  ]);
}

function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/** The hash leaves the replica count out: scaling a node keeps its running replicas. */
function withHash(spec: Omit<WorkloadSpec, 'specHash'>): WorkloadSpec {
  const { replicas: _count, ...hashed } = spec;
  return { ...spec, specHash: hashOf(hashed) };
}

/**
 * The deployment plan of a version: a pure function of the manifest, the config and the
 * installation, shared by the local and Kubernetes drivers.
 * @throws ConfigVariableTooLargeError
 */
export function plan(input: PlanInput): DeploymentPlan {
  const { prefix, runtimeId: rt, krt, config } = input;
  const ver = krt.version;
  const names = new Names(prefix);
  const configEnv = configEnvOf(config);
  const replicaDefaults = input.replicaDefaults ?? DEFAULT_REPLICA_RESOURCES;
  const common = {
    // Scopes the entrypoint's reply subject to the installation.
    KRE_PREFIX: prefix,
    KRT_RUNTIME_ID: rt,
    KRT_VERSION: ver,
    KRT_VERSION_ID: keys.version(rt, ver),
    KRT_NATS_SERVER: input.natsUrl,
    // The version's NATS identity may receive replies only there.
    KRT_NATS_INBOX_PREFIX: names.workloadInboxPrefix(rt, ver),
    KRT_NATS_OBS_PREFIX: names.obsPrefix(rt),
    KRT_NATS_DATA_PREFIX: names.dataPrefix(rt),
    KRT_NATS_KEY_VALUE_STORE_PROJECT: names.projectBucket(rt, ver),
    // Runners decode typed payloads with the version's proto, as the entrypoint encodes them.
    KRT_ENTRYPOINT_PROTO: krt.entrypoint.proto,
    // Which env vars are the version's config (the handler context's `config`); a file over
    // MAX_CONFIG_ENV_BYTES is not among them (it is only a file under KRT_CONFIG_FILES_DIR).
    KRT_CONFIG_KEYS: Object.keys(configEnv).join(','),
    ...(input.tracing
      ? {
          KRT_NATS_TRACES_SUBJECT: names.tracesSubject(rt),
          OTEL_BSP_SCHEDULE_DELAY: String(input.tracing.scheduleDelayMs),
        }
      : {}),
  };
  const baseLabels = {
    'app.kubernetes.io/part-of': 'kre',
    'app.kubernetes.io/managed-by': 'kre-deployer',
    'kre.io/runtime': rt,
    'kre.io/version': ver,
  };

  const routes: EntrypointRoutes = {};
  const nodeWorkloads: WorkloadSpec[] = [];
  // What the deployer provisions: one source of every stream, subject, consumer and bucket.
  const resources = planVersionResources(
    names,
    rt,
    ver,
    krt.workflows,
    input.streamSettings,
    input.storeMaxBytes,
  );

  for (const [index, wf] of krt.workflows.entries()) {
    const streams = resources.workflows[index];
    routes[wf.entrypoint] = {
      workflow: wf.name,
      stream: streams.stream,
      subject: streams.entrySubject,
    };

    for (const node of wf.nodes) {
      const { natsInputs, output } = streams.nodes[node.name];
      const stores = resources.nodeStores[`${wf.name}/${node.name}`];
      const python = nodeRuntime(node) === 'python';
      const requirements = python
        ? requirementsFileOf(node.src, krt.requirements ?? [])
        : undefined;
      nodeWorkloads.push(
        withHash({
          id: `${wf.name}.${node.name}`,
          role: 'node',
          program: python ? 'runner-python' : 'runner',
          ...(requirements ? { requirements } : {}),
          image: node.image,
          replicas: input.replicas?.[`${wf.name}.${node.name}`] ?? node.replicas,
          gpu: node.gpu,
          resources: replicaResources(node, replicaDefaults),
          ports: ['health'],
          env: plannedWorkloadEnv(runnerWorkloadEnv, {
            ...configEnv,
            ...common,
            KRT_WORKFLOW_NAME: wf.name,
            KRT_NODE_NAME: node.displayName,
            KRT_NODE_ID: node.name,
            KRT_HANDLER_PATH: node.src,
            KRT_NATS_STREAM: streams.stream,
            KRT_NATS_INPUTS: natsInputs,
            KRT_NATS_OUTPUT: output,
            KRT_IS_EXITPOINT: String(node.name === wf.exitpoint),
            KRT_NATS_KEY_VALUE_STORE_WORKFLOW: stores.workflow,
            KRT_NATS_KEY_VALUE_STORE_NODE: stores.node,
            ...(stores.objectStore ? { KRT_NATS_OBJECT_STORE: stores.objectStore } : {}),
            ...(node.batch
              ? {
                  KRT_BATCH_MAX_SIZE: String(node.batch.maxSize),
                  KRT_BATCH_MAX_LATENCY_MS: String(node.batch.maxLatencyMs),
                }
              : {}),
          }),
          configFiles: config.files,
          labels: {
            ...baseLabels,
            'app.kubernetes.io/component': 'node',
            'kre.io/workflow': wf.name,
            'kre.io/node': node.name,
          },
          k8sName: names.k8sObject(ver, wf.name, node.name),
        }),
      );
    }
  }

  const entrypoint = withHash({
    id: ENTRYPOINT_WORKLOAD,
    role: 'entrypoint',
    program: 'entrypoint',
    image: krt.entrypoint.image,
    replicas: input.replicas?.[ENTRYPOINT_WORKLOAD] ?? 1,
    gpu: false,
    resources: replicaResources(undefined, replicaDefaults),
    ports: ['grpc', 'http', 'health'],
    env: plannedWorkloadEnv(entrypointWorkloadEnv, {
      ...configEnv,
      ...common,
      KRT_REQUEST_TIMEOUT: String(input.requestTimeoutSeconds),
      KRT_ENTRYPOINT_ROUTES: JSON.stringify(routes),
    }),
    configFiles: config.files,
    labels: { ...baseLabels, 'app.kubernetes.io/component': 'entrypoint' },
    k8sName: names.k8sObject(ver),
  });

  return {
    prefix,
    runtimeId: rt,
    versionName: ver,
    workloads: [entrypoint, ...nodeWorkloads],
    resources,
    krtBucket: resources.krt.bucket,
    routes,
  };
}
