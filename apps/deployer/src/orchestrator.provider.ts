import { spawn } from 'node:child_process';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { Names } from '@libs/naming';
import {
  Cgroups,
  KUBERNETES_DEFAULTS,
  KubernetesDriver,
  LocalDriver,
  PythonEnvs,
  WorkloadNetworks,
  defaultImageMap,
  loopbackNatsPort,
  type DeploymentPlan,
  type KubernetesDriverOptions,
  type OrchestratorDriver,
} from '@libs/orchestrator';
import { existsSync, readFileSync } from 'node:fs';
import { parseNatsAuthority, publicKeys } from '@libs/messaging';
import { join, resolve } from 'node:path';
import type { DeployerEnv } from './deployer.env.js';

export const ORCHESTRATOR_DRIVER = Symbol('ORCHESTRATOR_DRIVER');

/**
 * Node's on-disk compile cache for the programs the local driver starts (`runner fetch-krt`, the
 * runners, the entrypoint): most of their start is loading the same ~1,100 modules, so every
 * start after the first on this machine compiles far less (docs/lifecycle.md, "Performance").
 * Same trust domain as the rest of the state folder; delete it at will.
 */
function compileCache(env: DeployerEnv): { NODE_COMPILE_CACHE: string } {
  return { NODE_COMPILE_CACHE: join(env.stateDir, 'node-compile-cache') };
}

/** Runs `runner fetch-krt` (the one fetch implementation) and fails with its output. */
function runFetchKrt(
  env: DeployerEnv,
  programs: string,
  plan: DeploymentPlan,
  dest: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(programs, 'runner/src/main.js'), 'fetch-krt'], {
      env: {
        PATH: env.PATH,
        HOME: env.HOME,
        KRE_PREFIX: plan.prefix,
        KRT_NATS_SERVER: env.NATS_URL,
        // The deployer's own identity: on this driver the deployer fetches, then hands the KRT
        // to the sandboxes read-only.
        KRT_NATS_CREDS: env.NATS_CREDS,
        KRT_NATS_INBOX_PREFIX: new Names(plan.prefix).workloadInboxPrefix(
          plan.runtimeId,
          plan.versionName,
        ),
        KRT_ARCHIVE_SHA256: plan.pins?.krtSha256 ?? '',
        KRT_KRT_BUCKET: plan.krtBucket,
        KRT_VERSION: plan.versionName,
        KRT_BASE_PATH: dest,
        ...compileCache(env),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`fetch-krt failed (exit ${code}): ${output.slice(-2_000).trim()}`)),
    );
  });
}

/** The configured driver; on start it adopts the workloads a previous deployer left running. */
@Injectable()
export class OrchestratorLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Orchestrator');
  constructor(@Inject(ORCHESTRATOR_DRIVER) private readonly driver: OrchestratorDriver) {}

  async onApplicationBootstrap(): Promise<void> {
    const isolation = this.driver.isolation?.();
    if (isolation)
      this.logger.log(
        `workloads: ${Object.entries(isolation)
          .map(([what, how]) => `${what} ${how}`)
          .join('; ')}`,
      );
    if (this.driver.isolatesRuntimes === false)
      this.logger.warn(
        'runtimes cannot be kept apart on this machine (the deployer is not root: every runtime would run as one user): a second runtime is refused unless KRE_SINGLE_TENANT=true',
      );
    await this.driver.adopt();
    this.logger.log('adopted running workloads');
  }

  /** Workloads keep running: a deployer restart must not interrupt traffic. */
  onApplicationShutdown(): Promise<void> {
    return this.driver.close();
  }
}

/** Debian's CA bundle: the machine's trusted CAs, a TLS-inspecting proxy's included. */
const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * Python nodes' virtualenvs on this machine (the local driver runs them; the deployer's
 * preparation builds them): the runner package of this installation (`runners/python` beside
 * `dist`), cached under the state folder.
 */
export function pythonEnvsFactory(env: DeployerEnv, programsDir: string): PythonEnvs {
  const root = resolve(programsDir, '../..'); // programsDir is <root>/dist/apps
  return new PythonEnvs({
    cacheDir: join(env.stateDir, 'cache', 'python'),
    python: env.KRE_PYTHON,
    runnerPackage: join(root, 'runners/python'),
    indexUrl: env.PYPI_INDEX_URL,
    caBundle: env.PYPI_CA_BUNDLE ?? (existsSync(SYSTEM_CA_BUNDLE) ? SYSTEM_CA_BUNDLE : undefined),
    hostPath: env.PATH,
    sandboxUser: { uid: env.SANDBOX_UID, gid: env.SANDBOX_GID },
    timeoutMs: env.KRT_PREPARE_TIMEOUT_SECONDS * 1_000,
    keepUnusedMs: env.PYTHON_ENV_KEEP_UNUSED_DAYS * 86_400_000,
  });
}

export async function orchestratorDriverFactory(
  env: DeployerEnv,
  programsDir: string,
  pythonEnvs?: PythonEnvs,
): Promise<OrchestratorDriver> {
  if (env.ORCHESTRATOR === 'kubernetes') {
    // Loads the Kubernetes client only here: a local-driver deployer boots without it.
    const authority = parseNatsAuthority(readFileSync(env.NATS_AUTHORITY_FILE, 'utf8'));
    return KubernetesDriver.fromEnvironment(kubernetesOptions(env, publicKeys(authority).account));
  }
  const network = workloadNetworks(env);
  return new LocalDriver({
    stateDir: env.stateDir,
    prefix: env.KRE_PREFIX,
    nodeBinary: process.execPath,
    programs: {
      entrypoint: join(programsDir, 'entrypoint/src/main.js'),
      runner: join(programsDir, 'runner/src/main.js'),
    },
    fetchKrt: (plan, dest) => runFetchKrt(env, programsDir, plan, dest),
    pythonEnvs: pythonEnvs ?? pythonEnvsFactory(env, programsDir),
    baseEnv: {
      PATH: env.PATH,
      HOME: env.HOME,
      NODE_ENV: env.NODE_ENV,
      ...compileCache(env),
      // No OTLP settings: workloads relay their spans over NATS (the plan's
      // KRT_NATS_TRACES_SUBJECT), as only NATS is reachable from their network namespaces.
    },
    sandbox: {
      uid: env.SANDBOX_UID,
      gid: env.SANDBOX_GID,
      range: env.SANDBOX_UID_RANGE,
      programFiles: programFiles(programsDir),
      hostPath: env.PATH,
    },
    network,
    sharedProcess: env.WORKLOAD_SHARED_PROCESS,
    limits: {
      cgroups: await Cgroups.detect('/sys/fs/cgroup', env.KRE_PREFIX),
      defaults: {
        memoryBytes: env.WORKLOAD_MEMORY_MB * 2 ** 20,
        cpus: env.WORKLOAD_CPUS,
        pids: env.WORKLOAD_PIDS,
      },
    },
  });
}

/**
 * Each replica's network namespace, when the deployer is root and WORKLOAD_NETWORK is `isolated`
 * (the default): NATS must then be on this machine's loopback, as workloads reach it through it.
 * @throws when NATS is elsewhere (isolation is not silently dropped)
 */
function workloadNetworks(env: DeployerEnv): WorkloadNetworks | undefined {
  if (env.WORKLOAD_NETWORK === 'shared' || process.getuid?.() !== 0) return undefined;
  const natsUrl = env.WORKLOAD_NATS_URL ?? env.NATS_URL;
  const natsPort = loopbackNatsPort(natsUrl);
  if (natsPort === undefined)
    throw new Error(
      `WORKLOAD_NETWORK=isolated needs NATS on this machine's loopback (workloads reach it from their network namespace), not ${natsUrl}: set WORKLOAD_NETWORK=shared to run workloads on the machine's network`,
    );
  return new WorkloadNetworks({ subnet: env.WORKLOAD_SUBNET, natsPort, hostPath: env.PATH });
}

/**
 * What the built programs load, shown read-only in each workload's sandbox: `dist` (the programs
 * import its libs), `node_modules`, the repository's `proto/` (KRE's envelope) and the
 * `package.json` that makes `dist`'s files ES modules; the rest of the installation is not there.
 */
function programFiles(programsDir: string): string[] {
  const root = resolve(programsDir, '../..'); // programsDir is <root>/dist/apps
  return [
    resolve(programsDir, '..'),
    ...['node_modules', 'proto', 'package.json'].map((f) => join(root, f)),
  ].filter((path) => existsSync(path));
}

/**
 * The driver's options from the deployer's env; `natsAccount` (the installation account's public
 * key, where the streams live) lets it hand bounded nodes to KEDA (KUBE_KEDA).
 */
export function kubernetesOptions(env: DeployerEnv, natsAccount?: string): KubernetesDriverOptions {
  const workloadNatsUrl = env.WORKLOAD_NATS_URL ?? env.NATS_URL;
  return {
    ...(env.KUBE_KEDA === 'auto' && natsAccount
      ? {
          keda: {
            natsMonitoringEndpoint:
              env.KUBE_KEDA_NATS_MONITORING_ENDPOINT ??
              `${new URL(workloadNatsUrl.split(',')[0].trim()).hostname}:8222`,
            account: natsAccount,
            useHttps: false,
          },
        }
      : {}),
    prefix: env.KRE_PREFIX,
    installationNamespace: env.KUBE_NAMESPACE,
    workloadNatsUrl,
    images: {
      runner: env.KUBE_RUNNER_IMAGE,
      entrypoint: env.KUBE_ENTRYPOINT_IMAGE,
      runnerPython: env.KUBE_RUNNER_PYTHON_IMAGE,
      map: {
        ...defaultImageMap(
          env.KUBE_RUNNER_IMAGE,
          env.KUBE_ENTRYPOINT_IMAGE,
          env.KUBE_RUNNER_PYTHON_IMAGE,
        ),
        ...env.KUBE_IMAGE_MAP,
      },
      allowed: env.KUBE_ALLOWED_IMAGES,
    },
    gateway: {
      host: `${env.KUBE_GATEWAY_SERVICE}.${env.KUBE_NAMESPACE}.svc.${env.KUBE_CLUSTER_DOMAIN}`,
      httpPort: env.KUBE_GATEWAY_HTTP_PORT,
      grpcPort: env.KUBE_GATEWAY_GRPC_PORT,
    },
    ingress: {
      controllerNamespace: env.KUBE_INGRESS_CONTROLLER_NAMESPACE,
      className: env.KUBE_INGRESS_CLASS,
      domain: env.KUBE_INGRESS_DOMAIN,
      annotations: env.KUBE_INGRESS_ANNOTATIONS,
      tlsSecret: env.KUBE_INGRESS_TLS_SECRET,
    },
    resourceQuota: env.KUBE_RESOURCE_QUOTA,
    limitRange: env.KUBE_LIMIT_RANGE,
    workloadResources: env.KUBE_WORKLOAD_RESOURCES,
    gpu: { nodeSelector: env.KUBE_GPU_NODE_SELECTOR, tolerations: env.KUBE_GPU_TOLERATIONS },
    programs: {
      runner: [...KUBERNETES_DEFAULTS.programs.runner],
      entrypoint: [...KUBERNETES_DEFAULTS.programs.entrypoint],
      runnerPython: [...KUBERNETES_DEFAULTS.programs.runnerPython],
    },
    fieldManager: KUBERNETES_DEFAULTS.fieldManager,
    dependencies: {
      registry: env.NPM_REGISTRY,
      registryEgress: env.KUBE_REGISTRY_EGRESS,
      timeoutSeconds: env.KRT_PREPARE_TIMEOUT_SECONDS,
      pypiIndexUrl: env.PYPI_INDEX_URL,
    },
  };
}
