import {
  KUBERNETES_DEFAULTS,
  defaultImageMap,
  type KubernetesDriverOptions,
} from './kubernetes.options.js';

/** Driver options for tests (what the deployer builds from its env). */
export function testOptions(
  overrides: Partial<KubernetesDriverOptions> = {},
): KubernetesDriverOptions {
  const runner = 'registry.test/kre/runner:1.0.0';
  const entrypoint = 'registry.test/kre/entrypoint:1.0.0';
  const runnerPython = 'registry.test/kre/runner-python:1.0.0';
  return {
    prefix: 'kre',
    installationNamespace: 'kre-system',
    workloadNatsUrl: 'nats://nats.kre-system.svc:4222',
    images: {
      runner,
      entrypoint,
      runnerPython,
      map: defaultImageMap(runner, entrypoint, runnerPython),
    },
    gateway: { host: 'kre-gateway.kre.svc.cluster.local', httpPort: 9080, grpcPort: 9000 },
    ingress: { controllerNamespace: 'ingress-nginx', annotations: {} },
    resourceQuota: { 'requests.cpu': '4', 'requests.memory': '8Gi', pods: '50' },
    limitRange: { default: { memory: '512Mi' }, defaultRequest: { cpu: '50m', memory: '64Mi' } },
    workloadResources: {
      requests: { ...KUBERNETES_DEFAULTS.workloadResources.requests },
      limits: { ...KUBERNETES_DEFAULTS.workloadResources.limits },
    },
    gpu: {
      nodeSelector: { 'nvidia.com/gpu.present': 'true' },
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
    },
    programs: {
      runner: [...KUBERNETES_DEFAULTS.programs.runner],
      entrypoint: [...KUBERNETES_DEFAULTS.programs.entrypoint],
      runnerPython: [...KUBERNETES_DEFAULTS.programs.runnerPython],
    },
    fieldManager: 'kre-test',
    dependencies: {
      registry: 'https://registry.test/npm/',
      registryEgress: [],
      timeoutSeconds: 600,
      pypiIndexUrl: 'https://pypi.test/simple',
    },
    ...overrides,
  };
}
