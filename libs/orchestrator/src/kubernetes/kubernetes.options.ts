import type { KedaOptions } from './keda.manifests.js';
import type { V1NetworkPolicyEgressRule } from '@kubernetes/client-node';

/** Tolerations and other pod-spec fragments are passed through as the Kubernetes API spells them. */
export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  tolerationSeconds?: number;
}

/** Resource requests and limits of a container (`cpu`, `memory`, ...). */
export interface ContainerResources {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

/** What an installation decides about the objects the kubernetes driver creates. */
export interface KubernetesDriverOptions {
  /** The installation prefix (`KRE_PREFIX`): namespaces are `<prefix>-<runtime>`. */
  prefix: string;
  /** The namespace KRE itself runs in (its gateway reaches entrypoints; its NATS serves workloads). */
  installationNamespace: string;
  /** The NATS URL workloads use (the in-cluster Service of the installation's NATS). */
  workloadNatsUrl: string;
  images: {
    /** Our runner image: every node's default, and the `fetch-krt` init container. */
    runner: string;
    /** Our entrypoint image. */
    entrypoint: string;
    /**
     * Our Python runner image (the Dockerfile's `runner-python`: Python with the runner package
     * in a venv at /opt/kre/venv, pip included): KRE's `konstellation/kre-py` nodes run in it.
     */
    runnerPython: string;
    /**
     * A KRT's image repository (without tag) → ours; `null` = KRE had it, we have no runner for
     * it yet (a start fails with a clear error).
     */
    map: Record<string, string | null>;
    /**
     * Repositories (or prefixes ending in `/*`) a KRT may name besides the mapped ones, run as
     * they are; any other image fails the start (`KUBE_ALLOWED_IMAGES`, default none).
     */
    allowed?: readonly string[];
  };
  /**
   * The installation's gateway: a runtime's stable Service (an ExternalName onto it) and Ingress
   * lead there, never straight to an entrypoint, so keys, limits and the wake-up apply. `host`
   * is its Service's in-cluster DNS name; the ports are that Service's.
   */
  gateway: { host: string; httpPort: number; grpcPort: number };
  ingress: {
    /** Namespace of the ingress controller (it reaches the gateway, no longer entrypoints). */
    controllerNamespace: string;
    className?: string;
    /** Published versions get an Ingress for `<runtime>.<domain>`; no domain, no Ingress. */
    domain?: string;
    annotations: Record<string, string>;
    /** A TLS Secret in each runtime namespace (e.g. issued by cert-manager). */
    tlsSecret?: string;
  };
  /** ResourceQuota `hard` of every runtime namespace (empty: no quota). */
  resourceQuota: Record<string, string>;
  /** LimitRange defaults for containers that declare nothing (empty: no LimitRange). */
  limitRange: { default: Record<string, string>; defaultRequest: Record<string, string> };
  /** Requests and limits of every workload container. */
  workloadResources: ContainerResources;
  /** Where `gpu: true` nodes go. */
  gpu: { nodeSelector: Record<string, string>; tolerations: Toleration[] };
  /** The command that runs one of our programs inside our images (the Dockerfiles' layout). */
  programs: { runner: string[]; entrypoint: string[]; runnerPython: string[] };
  /**
   * KEDA: when set and the cluster serves `scaledobjects.keda.sh`, bounded nodes are scaled by
   * a ScaledObject each instead of by the deployer (`KUBE_KEDA`, docs/kubernetes.md "KEDA").
   */
  keda?: KedaOptions;
  /** Server-side apply field manager. */
  fieldManager: string;
  /**
   * A KRT's declared dependencies are installed by each pod's fetch step (an init container in
   * the runtime's namespace, no service-account token), never in the deployer's pod.
   */
  dependencies: {
    /** The npm registry (`NPM_REGISTRY`). */
    registry: string;
    /**
     * Egress rules of the runtime namespaces' `allow-registry` NetworkPolicy: how pods reach
     * that registry (`KUBE_REGISTRY_EGRESS`). Empty: no such policy, so dependencies cannot be
     * installed until an operator says where the registry (or its mirror) is.
     */
    registryEgress: V1NetworkPolicyEgressRule[];
    /** How long one folder's `npm ci` (and one Python node's pip install) may take. */
    timeoutSeconds: number;
    /**
     * The Python package index (`PYPI_INDEX_URL`) a Python node's requirements come from, by
     * the `install-requirements` init container; reached through `registryEgress` too.
     */
    pypiIndexUrl: string;
  };
}

/** The image map KRE's own images need; installations extend it with `KUBE_IMAGE_MAP`. */
export function defaultImageMap(
  runner: string,
  entrypoint: string,
  runnerPython: string,
): Record<string, string | null> {
  return {
    'konstellation/kre-entrypoint': entrypoint,
    'konstellation/kre-runtime-entrypoint': entrypoint,
    'kre/runner-node': runner,
    'kre/entrypoint': entrypoint,
    'konstellation/kre-py': runnerPython,
    'kre/runner-python': runnerPython,
    // KRE's compiled Go nodes (refused at upload since #14; a version stored before fails here).
    'konstellation/kre-go': null,
  };
}

/** Defaults shared by the deployer's env parsing and the tests. */
export const KUBERNETES_DEFAULTS = {
  programs: {
    runner: ['node', '/app/dist/apps/runner/src/main.js'],
    entrypoint: ['node', '/app/dist/apps/entrypoint/src/main.js'],
    // -P: the working folder is not put first on sys.path (a KRT's nats.py shadows nothing).
    runnerPython: ['/opt/kre/venv/bin/python', '-s', '-P', '-m', 'kre_runner'],
  },
  fieldManager: 'kre-deployer',
  workloadResources: {
    requests: { cpu: '50m', memory: '128Mi' },
    limits: { memory: '1Gi' },
  },
} as const;

/** Ports inside workload pods (one pod, one workload: fixed numbers, named in the Service). */
export const POD_PORTS = { grpc: 9000, http: 8080, health: 8081 } as const;

/**
 * Where volumes are mounted in workload containers. The KRT goes one level below its volume
 * (`KRT_BASE_PATH=/krt/current`): fetch-krt extracts beside the destination and renames into
 * place, which a mount point itself would refuse, and the root filesystem is read-only.
 */
export const POD_PATHS = {
  krtVolume: '/krt',
  krt: '/krt/current',
  config: '/kre/config',
  /** The version's NATS credentials (`KRT_NATS_CREDS`), from its Secret. */
  nats: '/kre/nats',
  tmp: '/tmp',
  /** A Python node's requirements, installed by `install-requirements` (on PYTHONPATH). */
  deps: '/deps',
} as const;
