import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { VersionStatus } from '@libs/core';
import { connectNats } from '@libs/messaging';
import {
  freePort,
  markDeploymentsAvailable,
  runApp,
  startKubernetes,
  waitForHttp,
  type AppProcess,
  type KubeCluster,
} from '@libs/testing';
import type { NatsConnection } from '@nats-io/transport-node';
import { expect } from 'vitest';
import { openControlPlane, type ControlPlane } from '../deployer-harness.js';

/**
 * A deployer process with ORCHESTRATOR=kubernetes against a real API server and the test's
 * NATS, the catalog and job producers (`plane`), and one runtime record, for e2e tests that drive
 * it as admin-api would. No kubelet runs: `settled` marks the runtime's Deployments available.
 */
export interface KubeDeployerStack {
  work: string;
  cluster: KubeCluster;
  apps: AppsV1Api;
  core: CoreV1Api;
  nc: NatsConnection;
  plane: ControlPlane;
  deployer: AppProcess;
  /** Waits until the version leaves `transitional`; its status and message then. */
  settled(
    name: string,
    transitional: VersionStatus,
  ): Promise<{ status: VersionStatus; message?: string } | null>;
  close(): Promise<void>;
}

export async function startKubeDeployer(options: {
  /** The test env (`testEnv(...)`, with a CONFIG_ENCRYPTION_KEY). */
  env: Record<string, string>;
  /** The runtime record the tests use (created before the deployer starts). */
  runtime: Parameters<ControlPlane['runtimes']['create']>[0];
  /** The runtime's namespace, whose Deployments `settled` marks available. */
  namespace: string;
  /** The deployer's env besides the test env and the cluster's. */
  deployerEnv?: Record<string, string>;
  name: string;
}): Promise<KubeDeployerStack> {
  const { env, runtime, namespace } = options;
  const work = await mkdtemp(join(tmpdir(), `kre-${options.name}-`));
  const cluster = await startKubernetes();
  const kc = new KubeConfig();
  kc.loadFromString(cluster.kubeconfig);
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const plane = await openControlPlane(env);
  const nc = await connectNats({
    url: env.NATS_URL,
    credentials: env.NATS_CREDS,
    name: options.name,
  });
  await plane.runtimes.create(runtime);
  const port = await freePort();
  const deployer = runApp('deployer', {
    ...env,
    DEPLOYER_HEALTH_PORT: String(port),
    ORCHESTRATOR: 'kubernetes',
    KUBECONFIG: cluster.kubeconfigPath,
    KUBE_NAMESPACE: 'kre-system',
    WORKLOAD_READY_TIMEOUT_SECONDS: '60',
    ...options.deployerEnv,
  });
  await waitForHttp(`http://127.0.0.1:${port}/health`, deployer);

  const settled: KubeDeployerStack['settled'] = async (name, transitional) => {
    await expect
      .poll(
        async () => {
          await markDeploymentsAvailable(apps, namespace);
          return (await plane.versions.find(runtime._id, name))?.status;
        },
        { timeout: 90_000, interval: 250 },
      )
      .not.toBe(transitional);
    const version = await plane.versions.find(runtime._id, name);
    return version && { status: version.status, message: version.statusMessage };
  };
  const close = async () => {
    await deployer.stop();
    await nc.drain();
    await plane.close();
    await cluster.stop();
    await rm(work, { recursive: true, force: true });
  };
  return { work, cluster, apps, core, nc, plane, deployer, settled, close };
}
