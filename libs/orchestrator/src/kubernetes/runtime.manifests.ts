import type {
  KubernetesObject,
  V1LimitRange,
  V1Namespace,
  V1NetworkPolicy,
  V1ResourceQuota,
  V1RoleBinding,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import { formatCpu, formatMemory, type RuntimeQuota } from '@libs/core';
import { Names } from '@libs/naming';
import { POD_PORTS, type KubernetesDriverOptions } from './kubernetes.options.js';

/** The ServiceAccount every workload of a runtime runs as (no token, no permissions). */
export const WORKLOAD_SERVICE_ACCOUNT = 'kre-workload';
/**
 * Marks a runtime namespace as this installation's (value: the prefix). The chart's admission
 * policy lets the deployer change only namespaces that carry it, and what is in them.
 */
export const INSTALLATION_LABEL = 'kre.io/installation';
/** The RoleBinding that gives the deployer its rights inside a runtime namespace. */
export const DEPLOYER_ROLE_BINDING = 'kre-deployer';
/**
 * The chart's ClusterRole of the deployer's rights inside a runtime namespace, and its service
 * account (helm/kre `kre.runtimeDeployerRole`, `kre.deployerServiceAccount`): the deployer may
 * bind that role only, in namespaces carrying INSTALLATION_LABEL.
 */
export const deployerRbac = (options: KubernetesDriverOptions) => ({
  clusterRole: `kre-runtime-deployer:${options.installationNamespace}:${options.prefix}`,
  serviceAccount: `${options.prefix}-deployer`,
});
const MANAGED_BY = {
  'app.kubernetes.io/managed-by': 'kre-deployer',
  'app.kubernetes.io/part-of': 'kre',
};

const nsSelector = (namespace: string) => ({
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
});

/**
 * The objects of one runtime (tenant): its namespace under Pod Security `restricted`, a
 * ServiceAccount without a token, default-deny networking plus the traffic workloads need,
 * and the installation's quota and container defaults.
 */
export function runtimeManifests(
  options: KubernetesDriverOptions,
  runtimeId: string,
  quota?: RuntimeQuota,
): KubernetesObject[] {
  const namespace = new Names(options.prefix).namespace(runtimeId);
  const labels = { ...MANAGED_BY, 'kre.io/runtime': runtimeId };
  const meta = (name: string) => ({ name, namespace, labels });

  const ns: V1Namespace = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: namespace,
      labels: {
        ...labels,
        [INSTALLATION_LABEL]: options.prefix,
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/enforce-version': 'latest',
        'pod-security.kubernetes.io/audit': 'restricted',
        'pod-security.kubernetes.io/warn': 'restricted',
      },
    },
  };
  // Right after the namespace: the deployer's rights in it come from this binding.
  const rbac = deployerRbac(options);
  const roleBinding: V1RoleBinding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: meta(DEPLOYER_ROLE_BINDING),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: rbac.clusterRole },
    subjects: [
      {
        kind: 'ServiceAccount',
        name: rbac.serviceAccount,
        namespace: options.installationNamespace,
      },
    ],
  };
  const serviceAccount: V1ServiceAccount = {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: meta(WORKLOAD_SERVICE_ACCOUNT),
    automountServiceAccountToken: false,
  };
  const policies: V1NetworkPolicy[] = [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('default-deny'),
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('allow-dns'),
      spec: {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          {
            to: [{ ...nsSelector('kube-system') }],
            ports: [
              { protocol: 'UDP', port: 53 },
              { protocol: 'TCP', port: 53 },
            ],
          },
        ],
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('allow-nats'),
      spec: {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          {
            to: [
              {
                ...nsSelector(options.installationNamespace),
                podSelector: { matchLabels: { 'app.kubernetes.io/component': 'nats' } },
              },
            ],
            ports: [{ protocol: 'TCP', port: 4222 }],
          },
        ],
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('allow-entrypoint-ingress'),
      spec: {
        podSelector: { matchLabels: { 'app.kubernetes.io/component': 'entrypoint' } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            // The gateway alone (the way in: keys, limits, wake-up); the ingress controller
            // reaches the gateway, not entrypoints.
            _from: [
              {
                ...nsSelector(options.installationNamespace),
                podSelector: { matchLabels: { 'app.kubernetes.io/component': 'gateway' } },
              },
            ],
            ports: [
              { protocol: 'TCP', port: POD_PORTS.http },
              { protocol: 'TCP', port: POD_PORTS.grpc },
            ],
          },
        ],
      },
    },
  ];
  if (options.dependencies.registryEgress.length > 0) {
    // How the fetch step reaches the npm registry (or the installation's mirror of it).
    policies.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('allow-registry'),
      spec: {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: options.dependencies.registryEgress,
      },
    });
  }
  const objects: KubernetesObject[] = [ns, roleBinding, serviceAccount, ...policies];
  // The runtime's quota over the installation's (KUBE_RESOURCE_QUOTA): the deployer refuses a
  // start over it first; this makes the API server refuse pods over it too.
  const hard = { ...options.resourceQuota, ...(quota ? resourceQuotaHard(quota) : {}) };
  if (Object.keys(hard).length > 0) {
    const resourceQuota: V1ResourceQuota = {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: meta('kre-quota'),
      spec: { hard },
    };
    objects.push(resourceQuota);
  }
  const { default: limits, defaultRequest } = options.limitRange;
  if (Object.keys(limits).length + Object.keys(defaultRequest).length > 0) {
    const limitRange: V1LimitRange = {
      apiVersion: 'v1',
      kind: 'LimitRange',
      metadata: meta('kre-limits'),
      spec: {
        limits: [
          {
            type: 'Container',
            ...(Object.keys(limits).length > 0 ? { _default: limits } : {}),
            ...(Object.keys(defaultRequest).length > 0 ? { defaultRequest } : {}),
          },
        ],
      },
    };
    objects.push(limitRange);
  }
  return objects;
}

/** The ResourceQuota `hard` of a runtime's quota (JetStream storage is NATS's, not here). */
export function resourceQuotaHard(quota: RuntimeQuota): Record<string, string> {
  return {
    pods: String(quota.replicas),
    'limits.memory': formatMemory(quota.memoryBytes),
    'limits.cpu': formatCpu(quota.cpuMillis),
    'requests.nvidia.com/gpu': String(quota.gpus),
  };
}
