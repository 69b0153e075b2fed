import type {
  KubernetesObject,
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1Ingress,
  V1Secret,
  V1SecurityContext,
  V1Service,
  V1Volume,
} from '@kubernetes/client-node';
import { driverWorkloadEnv } from '@libs/config';
import { formatCpu, formatMemory, parseCpu, parseMemory } from '@libs/core';
import { Names } from '@libs/naming';
import type { DeploymentPlan, WorkloadSpec } from '../deployment-plan.js';
import { resolveImage } from './images.js';
import {
  POD_PATHS,
  POD_PORTS,
  type ContainerResources,
  type KubernetesDriverOptions,
} from './kubernetes.options.js';
import { WORKLOAD_SERVICE_ACCOUNT } from './runtime.manifests.js';

/** The stable Service (and Ingress) of a runtime's published version. */
export const PUBLISHED_SERVICE = 'entrypoint';
/** Annotation: which version the stable Service currently points at. */
export const PUBLISHED_VERSION_ANNOTATION = 'kre.io/published-version';
/** Pod-template annotation: a new plan hash (code, env or config) rolls the pods. */
export const SPEC_HASH_ANNOTATION = 'kre.io/spec-hash';
/** The workload id (`entrypoint`, `<workflow>.<node>`) on a version's Deployments and pods. */
export const WORKLOAD_ANNOTATION = 'kre.io/workload';
/** What a pod is: `entrypoint`, `node` (the NetworkPolicies and the driver select on it). */
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
/** Label selecting one workload's pods (its object name). */
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';

const RESTRICTED: V1SecurityContext = {
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** The keys of a workload's env that are the version's config (they come from its Secret). */
function configKeys(workload: WorkloadSpec): Set<string> {
  const listed = workload.env.KRT_CONFIG_KEYS ?? '';
  return new Set(listed.split(',').filter((key) => key !== ''));
}

/** The Secret data key of a config file: files and variables share one Secret. */
const fileKey = (name: string) => `file.${name}`;
/** The Secret data key (and file name) of the version's NATS credentials. */
const NATS_CREDS_KEY = 'nats.creds';
const NATS_CREDS_PATH = `${POD_PATHS.nats}/${NATS_CREDS_KEY}`;

function versionSecret(plan: DeploymentPlan, namespace: string): V1Secret {
  const [first] = plan.workloads;
  const data: Record<string, string> = {};
  for (const key of configKeys(first)) data[key] = first.env[key];
  for (const [name, content] of Object.entries(first.configFiles)) data[fileKey(name)] = content;
  if (plan.pins) data[NATS_CREDS_KEY] = plan.pins.credentials;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: new Names(plan.prefix).k8sObject(plan.versionName),
      namespace,
      labels: versionLabels(first),
    },
    stringData: data,
  };
}

/** The labels every object of a version carries (no workflow or node). */
function versionLabels(workload: WorkloadSpec): Record<string, string> {
  const { 'kre.io/workflow': _wf, 'kre.io/node': _node, ...rest } = workload.labels;
  return { ...rest, 'app.kubernetes.io/component': 'version' };
}

function workloadEnv(
  options: KubernetesDriverOptions,
  workload: WorkloadSpec,
  secretName: string,
): V1EnvVar[] {
  const secrets = configKeys(workload);
  const env: V1EnvVar[] = [];
  for (const [name, value] of Object.entries(workload.env)) {
    if (name === 'KRT_NATS_SERVER') env.push({ name, value: options.workloadNatsUrl });
    else if (secrets.has(name))
      env.push({ name, valueFrom: { secretKeyRef: { name: secretName, key: name } } });
    else env.push({ name, value });
  }
  const port = (name: 'grpc' | 'http' | 'health') =>
    workload.ports.includes(name) ? String(POD_PORTS[name]) : undefined;
  const driver = driverWorkloadEnv({
    KRT_BASE_PATH: POD_PATHS.krt,
    KRT_CONFIG_FILES_DIR: POD_PATHS.config,
    KRT_NATS_CREDS: NATS_CREDS_PATH,
    // The kubelet's probes and the Services reach the pod's address, not its loopback.
    KRT_LISTEN_HOST: '0.0.0.0',
    KRT_HEALTH_PORT: String(POD_PORTS.health),
    KRT_GRPC_PORT: port('grpc'),
    KRT_HTTP_PORT: port('http'),
  });
  return [
    ...env,
    ...Object.entries(driver).map(([name, value]) => ({ name, value })),
    { name: 'HOME', value: POD_PATHS.tmp },
    { name: 'NODE_ENV', value: 'production' },
    // What install-requirements put there comes first (a KRT's protobuf pin over the image's).
    ...(workload.requirements ? [{ name: 'PYTHONPATH', value: PYTHON_DEPS }] : []),
  ];
}

/** Where a Python node's requirements are installed (`pip install --target`). */
const PYTHON_DEPS = `${POD_PATHS.deps}/site-packages`;

/** The command of a workload's main container. */
function commandOf(options: KubernetesDriverOptions, workload: WorkloadSpec): string[] {
  switch (workload.program) {
    case 'entrypoint':
      return options.programs.entrypoint;
    case 'runner':
      return options.programs.runner;
    case 'runner-python':
      return options.programs.runnerPython;
  }
}

/**
 * A Python node's requirements, installed after fetch-krt by the node's own image (our Python
 * runner's venv has pip) into the pod's `deps` volume: in the runtime's namespace, with no
 * service-account token, no Secret and no engine setting but the index; wheels only, so no
 * package runs code while installing; no configuration file read (PIP_CONFIG_FILE=/dev/null).
 * The file is the KRT's, which the upload and fetch-krt's hardened reader checked (no option
 * but `-r`/`-c` inside the KRT, no URL). Paths go by environment (pip reads PIP_<OPTION>).
 */
function installRequirements(
  options: KubernetesDriverOptions,
  workload: WorkloadSpec & { requirements: string },
  image: string,
): V1Container {
  const [python] = options.programs.runnerPython;
  return {
    name: 'install-requirements',
    image,
    command: [
      'timeout',
      String(options.dependencies.timeoutSeconds),
      python,
      '-I',
      '-m',
      'pip',
      'install',
      '--no-input',
      '--disable-pip-version-check',
      '--no-cache-dir',
      '--progress-bar=off',
      '--no-warn-script-location',
      '--only-binary=:all:',
      `--index-url=${options.dependencies.pypiIndexUrl}`,
      '--retries=1',
      '--timeout=30',
    ],
    env: [
      { name: 'HOME', value: POD_PATHS.tmp },
      { name: 'PIP_CONFIG_FILE', value: '/dev/null' },
      { name: 'PIP_REQUIREMENT', value: `${POD_PATHS.krt}/${workload.requirements}` },
      { name: 'PIP_TARGET', value: PYTHON_DEPS },
    ],
    volumeMounts: [
      { name: 'krt', mountPath: POD_PATHS.krtVolume, readOnly: true },
      { name: 'deps', mountPath: POD_PATHS.deps },
      { name: 'tmp', mountPath: POD_PATHS.tmp },
    ],
    securityContext: RESTRICTED,
    resources: containerResources(options, workload),
  };
}

function deployment(
  options: KubernetesDriverOptions,
  plan: DeploymentPlan,
  workload: WorkloadSpec,
  namespace: string,
  secretName: string,
): V1Deployment {
  const image = resolveImage(options.images, workload.id, workload.image);
  const labels = {
    ...workload.labels,
    'app.kubernetes.io/name': workload.role === 'entrypoint' ? 'kre-entrypoint' : 'kre-node',
    [INSTANCE_LABEL]: workload.k8sName,
  };
  const selector = {
    'kre.io/runtime': plan.runtimeId,
    'kre.io/version': plan.versionName,
    [INSTANCE_LABEL]: workload.k8sName,
  };
  const fetchKrt: V1Container = {
    name: 'fetch-krt',
    image: options.images.runner,
    command: options.programs.runner,
    args: ['fetch-krt'],
    env: [
      { name: 'KRE_PREFIX', value: plan.prefix },
      { name: 'KRT_NATS_SERVER', value: options.workloadNatsUrl },
      // The version's own identity: it may read its runtime's KRT copies, not write them.
      { name: 'KRT_NATS_CREDS', value: NATS_CREDS_PATH },
      { name: 'KRT_NATS_INBOX_PREFIX', value: workload.env.KRT_NATS_INBOX_PREFIX },
      { name: 'KRT_ARCHIVE_SHA256', value: plan.pins?.krtSha256 ?? '' },
      { name: 'KRT_KRT_BUCKET', value: plan.krtBucket },
      { name: 'KRT_VERSION', value: plan.versionName },
      { name: 'KRT_BASE_PATH', value: POD_PATHS.krt },
      { name: 'HOME', value: POD_PATHS.tmp },
      // The fetch step installs the KRT's declared dependencies here, in the runtime's namespace.
      { name: 'KRT_NPM_REGISTRY', value: options.dependencies.registry },
      { name: 'KRT_NPM_CACHE', value: `${POD_PATHS.tmp}/npm-cache` },
      { name: 'KRT_NPM_TIMEOUT_SECONDS', value: String(options.dependencies.timeoutSeconds) },
    ],
    volumeMounts: [
      { name: 'krt', mountPath: POD_PATHS.krtVolume },
      { name: 'tmp', mountPath: POD_PATHS.tmp },
      { name: 'nats', mountPath: POD_PATHS.nats, readOnly: true },
    ],
    securityContext: RESTRICTED,
    resources: containerResources(options, workload),
  };
  const requirements =
    workload.program === 'runner-python' && workload.requirements
      ? installRequirements(options, { ...workload, requirements: workload.requirements }, image)
      : undefined;
  const gpu = workload.gpu;
  const base = containerResources(options, workload);
  const resources = gpu ? { ...base, limits: { ...base.limits, 'nvidia.com/gpu': '1' } } : base;
  const probe = (path: string) => ({
    httpGet: { path, port: 'health' },
    periodSeconds: 5,
    timeoutSeconds: 2,
    failureThreshold: 3,
  });
  const main: V1Container = {
    name: workload.role === 'entrypoint' ? 'entrypoint' : 'node',
    image,
    command: commandOf(options, workload),
    // The Python runner runs with the KRT as its working folder, as KRE's did.
    ...(workload.program === 'runner-python' ? { workingDir: POD_PATHS.krt } : {}),
    env: workloadEnv(options, workload, secretName),
    ports: workload.ports.map((port) => ({
      name: port,
      containerPort: POD_PORTS[port],
      protocol: 'TCP',
    })),
    readinessProbe: probe('/readyz'),
    livenessProbe: { ...probe('/livez'), initialDelaySeconds: 10 },
    startupProbe: { ...probe('/livez'), failureThreshold: 60 },
    volumeMounts: [
      { name: 'krt', mountPath: POD_PATHS.krtVolume, readOnly: true },
      { name: 'config', mountPath: POD_PATHS.config, readOnly: true },
      { name: 'nats', mountPath: POD_PATHS.nats, readOnly: true },
      { name: 'tmp', mountPath: POD_PATHS.tmp },
      ...(requirements ? [{ name: 'deps', mountPath: POD_PATHS.deps, readOnly: true }] : []),
    ],
    securityContext: RESTRICTED,
    resources,
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: workload.k8sName,
      namespace,
      labels,
      annotations: { [WORKLOAD_ANNOTATION]: workload.id },
    },
    spec: {
      replicas: workload.replicas,
      revisionHistoryLimit: 2,
      selector: { matchLabels: selector },
      template: {
        metadata: {
          labels,
          annotations: {
            [SPEC_HASH_ANNOTATION]: workload.specHash,
            [WORKLOAD_ANNOTATION]: workload.id,
          },
        },
        spec: {
          serviceAccountName: WORKLOAD_SERVICE_ACCOUNT,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            runAsGroup: 1000,
            fsGroup: 1000,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          initContainers: requirements ? [fetchKrt, requirements] : [fetchKrt],
          containers: [main],
          volumes: [
            { name: 'krt', emptyDir: {} },
            { name: 'tmp', emptyDir: {} },
            configVolume(workload, secretName),
            {
              name: 'nats',
              secret: {
                secretName,
                defaultMode: 0o440,
                items: [{ key: NATS_CREDS_KEY, path: NATS_CREDS_KEY }],
              },
            },
            ...(requirements ? [{ name: 'deps', emptyDir: {} }] : []),
          ],
          terminationGracePeriodSeconds: 30,
          ...(gpu
            ? { nodeSelector: options.gpu.nodeSelector, tolerations: options.gpu.tolerations }
            : {}),
        },
      },
    },
  };
}

/** Config files from the version's Secret (an empty dir when the version has none). */
function configVolume(workload: WorkloadSpec, secretName: string): V1Volume {
  const files = Object.keys(workload.configFiles);
  if (files.length === 0) return { name: 'config', emptyDir: {} };
  return {
    name: 'config',
    secret: { secretName, items: files.map((name) => ({ key: fileKey(name), path: name })) },
  };
}

function entrypointService(workload: WorkloadSpec, namespace: string, name: string): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace,
      labels: { ...workload.labels, [INSTANCE_LABEL]: workload.k8sName },
    },
    spec: {
      type: 'ClusterIP',
      selector: {
        'kre.io/runtime': workload.labels['kre.io/runtime'],
        'kre.io/version': workload.labels['kre.io/version'],
        [INSTANCE_LABEL]: workload.k8sName,
      },
      ports: [
        { name: 'grpc', port: POD_PORTS.grpc, targetPort: 'grpc', appProtocol: 'grpc' },
        { name: 'http', port: POD_PORTS.http, targetPort: 'http', appProtocol: 'http' },
      ],
    },
  };
}

function entrypointOf(plan: DeploymentPlan): WorkloadSpec {
  const entrypoint = plan.workloads.find((w) => w.role === 'entrypoint');
  if (!entrypoint)
    throw new Error(`the plan of ${plan.runtimeId}/${plan.versionName} has no entrypoint`);
  return entrypoint;
}

/**
 * The objects of one started version, in apply order: its config Secret, a Deployment per
 * workload (the `fetch-krt` init container, then our program) and the entrypoint's Service.
 * @throws UnsupportedImageError when a workload's image has no runner here
 */
export function versionManifests(
  options: KubernetesDriverOptions,
  plan: DeploymentPlan,
): KubernetesObject[] {
  const namespace = new Names(plan.prefix).namespace(plan.runtimeId);
  const secret = versionSecret(plan, namespace);
  const secretName = secret.metadata!.name!;
  const entrypoint = entrypointOf(plan);
  return [
    secret,
    ...plan.workloads.map((w) => deployment(options, plan, w, namespace, secretName)),
    entrypointService(entrypoint, namespace, entrypoint.k8sName),
  ];
}

/**
 * The stable address of a runtime: Service `entrypoint`, an ExternalName onto the installation's
 * gateway (with the gateway's ports), and, when the installation has an ingress domain, an Ingress
 * for `<runtime>.<domain>` onto it. The gateway knows the runtime by that host (its
 * GATEWAY_RUNTIME_HOSTS) and routes to the published version: so callers from outside and inside
 * the cluster meet invocation keys, limits and the wake-up, and entrypoints take calls from the
 * gateway alone.
 */
export function publishedManifests(
  options: KubernetesDriverOptions,
  runtimeId: string,
  versionName: string,
): KubernetesObject[] {
  const names = new Names(options.prefix);
  const namespace = names.namespace(runtimeId);
  const labels = {
    'app.kubernetes.io/part-of': 'kre',
    'app.kubernetes.io/managed-by': 'kre-deployer',
    'app.kubernetes.io/component': 'published-entrypoint',
    'kre.io/runtime': runtimeId,
  };
  const metadata = {
    name: PUBLISHED_SERVICE,
    namespace,
    labels,
    annotations: { [PUBLISHED_VERSION_ANNOTATION]: versionName },
  };
  const { gateway } = options;
  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata,
    spec: {
      type: 'ExternalName',
      externalName: gateway.host,
      ports: [
        { name: 'grpc', port: gateway.grpcPort, appProtocol: 'grpc' },
        { name: 'http', port: gateway.httpPort, appProtocol: 'http' },
      ],
    },
  };
  const { domain, className, annotations, tlsSecret } = options.ingress;
  if (!domain) return [service];
  const host = `${runtimeId}.${domain}`;
  const ingress: V1Ingress = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { ...metadata, annotations: { ...annotations, ...metadata.annotations } },
    spec: {
      ...(className ? { ingressClassName: className } : {}),
      ...(tlsSecret ? { tls: [{ hosts: [host], secretName: tlsSecret }] } : {}),
      rules: [
        {
          host,
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: {
                  service: { name: PUBLISHED_SERVICE, port: { number: gateway.httpPort } },
                },
              },
            ],
          },
        },
      ],
    },
  };
  return [service, ingress];
}

/** `host:port` of a version's entrypoint Service, as the in-cluster gateway dials it. */
export function serviceAddresses(
  prefix: string,
  runtimeId: string,
  versionName: string,
): { http: string; grpc: string } {
  const names = new Names(prefix);
  const host = `${names.k8sObject(versionName)}.${names.namespace(runtimeId)}.svc`;
  return { http: `${host}:${POD_PORTS.http}`, grpc: `${host}:${POD_PORTS.grpc}` };
}

/**
 * Every container of a workload's pod (init steps too: a namespace whose ResourceQuota counts
 * `limits.cpu` admits no pod with a container lacking one): the replica's limits from the plan
 * (the node's `resources`, else the installation's default) over KUBE_WORKLOAD_RESOURCES, whose
 * requests stay, lowered to the limit where they exceed it (the API server refuses more).
 */
export function containerResources(
  options: KubernetesDriverOptions,
  workload: Pick<WorkloadSpec, 'resources'>,
): ContainerResources {
  const r = workload.resources;
  if (!r) return options.workloadResources;
  const requests = { ...options.workloadResources.requests };
  const memory = requests.memory === undefined ? undefined : parseMemory(requests.memory);
  if (memory?.ok && memory.value > r.memoryBytes) requests.memory = formatMemory(r.memoryBytes);
  const cpu = requests.cpu === undefined ? undefined : parseCpu(requests.cpu);
  if (cpu?.ok && cpu.value > r.cpuMillis) requests.cpu = formatCpu(r.cpuMillis);
  return {
    ...(Object.keys(requests).length > 0 ? { requests } : {}),
    limits: {
      ...options.workloadResources.limits,
      memory: formatMemory(r.memoryBytes),
      cpu: formatCpu(r.cpuMillis),
    },
  };
}
