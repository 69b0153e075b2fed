export {
  ENTRYPOINT_WORKLOAD,
  plan,
  type DeploymentPlan,
  type EntrypointRoutes,
  type PlanConfig,
  type PlanInput,
  type PortName,
  type WorkloadSpec,
  DEFAULT_REPLICA_RESOURCES,
  replicaResources,
} from './deployment-plan.js';
export {
  QuotaExceededError,
  checkQuota,
  krtStoresUsage,
  krtUsage,
  planUsage,
  storageOf,
  type UsageDefaults,
} from './deployment-plan.quota.js';
export {
  WorkloadsNotReadyError,
  type ApplyOptions,
  type ExternalAutoscaler,
  type ExternallyScaledNode,
  type OrchestratorDriver,
  type ReplicaStatus,
  type ReplicaUsage,
  type VersionEndpoints,
  type VersionUsage,
} from './driver.js';
export { LocalDriver, OWNER_ENV, type LocalDriverOptions } from './local/local.driver.js';
export {
  PythonEnvs,
  SANDBOX_VENV,
  type PythonEnv,
  type PythonEnvOptions,
} from './local/python-env.js';
export { KrtDigestMismatchError, fetchKrt, type FetchKrtOptions } from './fetch-krt.js';
export { killWithGroup, processesWithEnv } from './local/proc.js';
export { freePort } from './local/free-port.js';
export { Cgroups, type LimitsMode, type WorkloadLimits } from './local/cgroups.js';
export {
  WorkloadNetworks,
  loopbackNatsPort,
  type ReplicaNetwork,
  type WorkloadNetworkOptions,
} from './local/workload-network.js';
export { KubernetesDriver } from './kubernetes/kubernetes.driver.js';
export {
  KUBERNETES_DEFAULTS,
  defaultImageMap,
  type ContainerResources,
  type KubernetesDriverOptions,
  type Toleration,
} from './kubernetes/kubernetes.options.js';
export { ImageNotAllowedError, UnsupportedImageError } from './kubernetes/images.js';
export {
  KEDA_API_GROUP,
  KEDA_API_VERSION,
  SCALED_OBJECTS,
  scaledObjectManifest,
  type KedaOptions,
} from './kubernetes/keda.manifests.js';
export {
  DependencyInstallError,
  installDependenciesInPlace,
  prepareKrt,
  type PrepareKrtOptions,
  type PreparedKrt,
} from './prepare-krt.js';
export {
  DEFAULT_AUTOSCALER_OPTIONS,
  ReplicaAutoscaler,
  checkBounds,
  type AutoscalerOptions,
  type LoadSample,
  type ScaleBounds,
  type ScaleDecision,
} from './scaling/replica-autoscaler.js';
