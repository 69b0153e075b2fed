import {
  baseEnv,
  configKeyEnv,
  jsonEnv,
  mongoEnv,
  natsEnv,
  ports,
  redisEnv,
  runtimeQuotaEnv,
  urlEnv,
  workflowStreamEnv,
} from '@libs/config';
import { KUBERNETES_DEFAULTS } from '@libs/orchestrator';
import { z } from 'zod';

const stringMap = z.record(z.string(), z.string());
const optionalText = z.string().trim().min(1).optional();

/** The kubernetes driver's settings (`ORCHESTRATOR=kubernetes`); the Helm chart sets them. */
const kubernetesEnv = {
  /** Where KRE runs: its NATS and gateway; NetworkPolicies of runtimes allow traffic from/to it. */
  KUBE_NAMESPACE: z.string().default('kre'),
  /** NATS as workloads in runtime namespaces reach it (default: NATS_URL). */
  WORKLOAD_NATS_URL: urlEnv(['nats', 'tls']).optional(),
  /**
   * The installation's gateway Service in KUBE_NAMESPACE and its ports: runtimes' stable Services
   * (ExternalName) and Ingresses lead to it. KUBE_CLUSTER_DOMAIN: the cluster's DNS domain.
   */
  KUBE_GATEWAY_SERVICE: z.string().default('kre-gateway'),
  KUBE_GATEWAY_HTTP_PORT: ports.port(9080),
  KUBE_GATEWAY_GRPC_PORT: ports.port(9000),
  KUBE_CLUSTER_DOMAIN: z.string().default('cluster.local'),
  KUBE_INGRESS_CONTROLLER_NAMESPACE: z.string().default('ingress-nginx'),
  KUBE_INGRESS_CLASS: optionalText,
  /** Published versions answer at `<runtime>.<domain>`; unset: no Ingress. */
  KUBE_INGRESS_DOMAIN: optionalText,
  KUBE_INGRESS_ANNOTATIONS: jsonEnv(stringMap, {}),
  KUBE_INGRESS_TLS_SECRET: optionalText,
  KUBE_RUNNER_IMAGE: z.string().default('kre/runner:latest'),
  KUBE_ENTRYPOINT_IMAGE: z.string().default('kre/entrypoint:latest'),
  /** Our Python runner (the Dockerfile's runner-python): KRE's konstellation/kre-py maps to it. */
  KUBE_RUNNER_PYTHON_IMAGE: z.string().default('kre/runner-python:latest'),
  /** KRT image repository → our image (null: not runnable here); merged over KRE's defaults. */
  KUBE_IMAGE_MAP: jsonEnv(z.record(z.string(), z.string().nullable()), {}),
  /**
   * Image repositories (or prefixes ending in `/*`), comma-separated, that KRTs may name besides
   * the mapped ones; others fail the start. Default: none.
   */
  KUBE_ALLOWED_IMAGES: z
    .string()
    .optional()
    .transform((raw) =>
      (raw ?? '')
        .split(',')
        .map((entry) => entry.trim())
        .filter(Boolean),
    ),
  KUBE_RESOURCE_QUOTA: jsonEnv(stringMap, {}),
  KUBE_LIMIT_RANGE: jsonEnv(
    z.strictObject({ default: stringMap.default({}), defaultRequest: stringMap.default({}) }),
    {},
  ),
  KUBE_WORKLOAD_RESOURCES: jsonEnv(
    z.strictObject({ requests: stringMap.optional(), limits: stringMap.optional() }),
    KUBERNETES_DEFAULTS.workloadResources,
  ),
  KUBE_GPU_NODE_SELECTOR: jsonEnv(stringMap, { 'nvidia.com/gpu.present': 'true' }),
  /**
   * NetworkPolicy egress rules (as the Kubernetes API spells them) by which runtime pods' fetch
   * step reaches NPM_REGISTRY and their install-requirements step PYPI_INDEX_URL; `[]`: none, so
   * KRTs that declare dependencies cannot start.
   */
  KUBE_REGISTRY_EGRESS: jsonEnv(
    z.array(
      z.strictObject({
        to: z.array(z.record(z.string(), z.unknown())).optional(),
        ports: z
          .array(
            z.strictObject({
              protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
              port: z.union([z.number().int(), z.string()]).optional(),
              endPort: z.number().int().optional(),
            }),
          )
          .optional(),
      }),
    ),
    [],
  ),
  /**
   * `auto`: where the cluster serves KEDA's `scaledobjects.keda.sh`, bounded nodes are scaled by
   * a ScaledObject each (KEDA's `nats-jetstream` trigger) instead of by the deployer; `off`:
   * always by the deployer. KUBE_KEDA_NATS_MONITORING_ENDPOINT: `host:port` of NATS's monitoring
   * endpoint as KEDA's operator reaches it (default: the workloads' NATS host, port 8222).
   */
  KUBE_KEDA: z.enum(['auto', 'off']).default('auto'),
  KUBE_KEDA_NATS_MONITORING_ENDPOINT: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, { error: 'must be host:port (no scheme)' })
    .optional(),
  KUBE_GPU_TOLERATIONS: jsonEnv(
    z.array(
      z.strictObject({
        key: z.string().optional(),
        operator: z.enum(['Exists', 'Equal']).optional(),
        value: z.string().optional(),
        effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
        tolerationSeconds: z.number().int().optional(),
      }),
    ),
    [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
  ),
};

export const deployerEnvSchema = z
  .object({
    ...baseEnv,
    ...mongoEnv,
    ...redisEnv,
    ...natsEnv,
    /**
     * The installation's NATS authority (JSON: operator, system and account keys; scripts/nats-auth
     * makes it): the deployer mints each version's NATS identity and revokes it at stop.
     */
    NATS_AUTHORITY_FILE: z
      .string({ error: 'is required (the path of the NATS authority file)' })
      .min(1, { error: 'is required (the path of the NATS authority file)' }),
    ...configKeyEnv,
    /** The quota of runtimes that have none of their own (shared with admin-api), and stream sizes. */
    ...runtimeQuotaEnv,
    ...workflowStreamEnv,
    DEPLOYER_HOST: z.string().default('127.0.0.1'),
    /** `/health` and `/livez` only: the deployer serves no API. */
    DEPLOYER_HEALTH_PORT: ports.port(8081),
    ORCHESTRATOR: z.enum(['local', 'kubernetes']).default('local'),
    JOB_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
    /**
     * Scale to zero: a running version with no call for this many seconds releases its
     * workloads until the next call wakes it (docs/lifecycle.md, "Sleep and wake"); a version's
     * own `scale.idleSeconds` (updateVersionScale) overrides it. 0: versions never sleep.
     */
    VERSION_IDLE_SECONDS: z.coerce.number().int().min(0).max(2_592_000).default(0),
    /**
     * Node autoscaling (docs/lifecycle.md, "Autoscaling"), for nodes a MANAGER gave bounds
     * (updateNodeAutoscale): messages waiting or held per replica that one replica carries
     * (`num_pending + num_ack_pending` of its consumer)...
     */
    AUTOSCALE_TARGET_BACKLOG: z.coerce.number().int().min(1).max(1_000_000).default(32),
    /**
     * ...the calls in flight (through every gateway, on average) one replica of an entrypoint
     * with bounds (updateEntrypointAutoscale) carries: Knative's target concurrency...
     */
    AUTOSCALE_TARGET_IN_FLIGHT: z.coerce.number().min(0.1).max(1_000_000).default(100),
    /**
     * ...the seconds within which a node's waiting messages are meant to be handled at the pace
     * its replicas keep (their handler time, measured from the consumer's acknowledgements): a
     * slow node scales out on a backlog under the target (0: the target backlog alone)...
     */
    AUTOSCALE_DRAIN_SECONDS: z.coerce.number().min(0).max(86_400).default(30),
    /** ...how long that load must want more replicas before a scale-up... */
    AUTOSCALE_UP_AFTER_SECONDS: z.coerce.number().min(0).max(3_600).default(2),
    /** ...and how long every sample must want fewer before a scale-down (no flapping). */
    AUTOSCALE_COOLDOWN_SECONDS: z.coerce.number().min(0).max(86_400).default(60),
    /** How long a start waits for every workload's /readyz. */
    WORKLOAD_READY_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3_600).default(120),
    /** The entrypoint's wait for a workflow's reply (`KRT_REQUEST_TIMEOUT`). */
    REQUEST_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3_600).default(30),
    /** Local driver state (registries, extracted KRTs, logs); default `<XDG_STATE_HOME>/<prefix>`. */
    KRE_STATE_DIR: z.string().min(1).optional(),
    XDG_STATE_HOME: z.string().min(1).optional(),
    HOME: z.string().min(1).default('/tmp'),
    /** Handed to workloads (with HOME); nothing else of the deployer's environment is. */
    PATH: z.string().default('/usr/local/bin:/usr/bin:/bin'),
    /** Folder of the built workload programs (`<dir>/runner/src/main.js`); default: beside the deployer. */
    KRE_WORKLOAD_PROGRAMS_DIR: z.string().min(1).optional(),
    /** How long installing one folder's declared dependencies (`npm ci`) may take. */
    KRT_PREPARE_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3_600).default(600),
    /** The npm registry KRT dependencies come from, whatever host their lockfile names. */
    NPM_REGISTRY: urlEnv(['https', 'http']).default('https://registry.npmjs.org/'),
    /**
     * The Python package index (PEP 503 "simple" URL) every Python node's requirements come
     * from; a KRT cannot name another. Kubernetes pods reach it through KUBE_REGISTRY_EGRESS.
     */
    PYPI_INDEX_URL: urlEnv(['https', 'http']).default('https://pypi.org/simple'),
    /**
     * The CA bundle pip trusts when installing on this machine; default: the system's
     * (/etc/ssl/certs/ca-certificates.crt) when it exists, else pip's own.
     */
    PYPI_CA_BUNDLE: z.string().min(1).optional(),
    /** The Python (3.11+) whose virtualenvs run Python nodes on this machine (a name on PATH, or a path). */
    KRE_PYTHON: z.string().min(1).default('python3'),
    /**
     * A cached Python environment (a virtualenv per requirements set, under the state folder) that
     * no running replica uses is deleted once unused this many days; a later start rebuilds it.
     */
    PYTHON_ENV_KEEP_UNUSED_DAYS: z.coerce.number().positive().max(3_650).default(14),
    /**
     * The uid and gid tenant input runs as in the one-machine sandbox when the deployer is root
     * (an id that owns none of the engine's files; no passwd entry is needed).
     */
    SANDBOX_UID: z.coerce.number().int().min(1).max(4_294_967_294).default(64_000),
    SANDBOX_GID: z.coerce.number().int().min(1).max(4_294_967_294).default(64_000),
    /**
     * Workloads on one machine run in the sandbox too, each runtime as its own uid and gid:
     * `SANDBOX_UID|GID + 1 + (a hash of the runtime id) mod SANDBOX_UID_RANGE` (ids nobody else
     * on the machine uses; two runtimes share one with probability 1/range).
     */
    SANDBOX_UID_RANGE: z.coerce.number().int().min(1).max(1_000_000).default(1_000),
    /**
     * Limits of each workload replica on one machine, in a control group of its own (cgroup v2 or
     * v1, as the machine has them; none without writable cgroups, which /health says): memory
     * in MiB, CPUs (fractions allowed), processes and threads.
     */
    WORKLOAD_MEMORY_MB: z.coerce.number().int().min(64).max(1_048_576).default(1_024),
    WORKLOAD_CPUS: z.coerce.number().positive().max(1_024).default(1),
    WORKLOAD_PIDS: z.coerce.number().int().min(16).max(1_000_000).default(512),
    /**
     * On one machine, a version's entrypoint and JavaScript nodes (one replica each) run in one
     * process, under the sum of their limits (docs/lifecycle.md, "Density"): an idle version
     * holds one Node process instead of one per workload. `false`: a process per replica.
     */
    WORKLOAD_SHARED_PROCESS: z
      .enum(['true', 'false'])
      .default('true')
      .transform((v) => v === 'true'),
    /**
     * `isolated` (when the deployer is root): each workload replica in a network namespace of its
     * own from which only NATS (on this machine's loopback) is reachable, at an address of
     * WORKLOAD_SUBNET (a /30 per replica); `shared`: workloads use the machine's network.
     */
    WORKLOAD_NETWORK: z.enum(['isolated', 'shared']).default('isolated'),
    WORKLOAD_SUBNET: z
      .string()
      .regex(/^\d+\.\d+\.\d+\.\d+\/\d+$/, 'must be an IPv4 CIDR such as 10.213.0.0/16')
      .default('10.213.0.0/16'),
    /**
     * Where workloads cannot each have a uid of their own (the deployer is not root), runtimes
     * share one: the deployer then refuses a second runtime unless this says the installation
     * has one tenant.
     */
    KRE_SINGLE_TENANT: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true'),
    ...kubernetesEnv,
  })
  .transform((env) => ({
    ...env,
    stateDir:
      env.KRE_STATE_DIR ?? `${env.XDG_STATE_HOME ?? `${env.HOME}/.local/state`}/${env.KRE_PREFIX}`,
  }));

export type DeployerEnv = z.infer<typeof deployerEnvSchema>;
export const DEPLOYER_ENV = Symbol('DeployerEnv');
