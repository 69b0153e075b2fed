export { runApp, waitForHttp, type AppProcess } from './app-process.js';
export {
  markDeploymentsAvailable,
  startKubernetes,
  type KubeCluster,
  type StartKubernetesOptions,
} from './kube.js';
export { waitForMail, type CaughtMail } from './mailpit.js';
export {
  freePort,
  startFerretDb,
  startRedis,
  startServices,
  toolBinary,
  type ServiceUrls,
} from './services.js';
export { testEnv, testPrefix } from './test-env.js';
export { TestNpmRegistry, addNpmConfigAttack, addRegistryDependency } from './npm-registry.js';
export { credentialsFile, engineCredentials, workloadCredentials } from './nats-identities.js';
