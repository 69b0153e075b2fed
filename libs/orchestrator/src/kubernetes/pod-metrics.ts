import type { ReplicaStatus, ReplicaUsage } from '../driver.js';

/** What `metrics.k8s.io/v1beta1` says of one pod (metrics-server, or any adapter serving it). */
export interface PodMetrics {
  metadata?: { name?: string };
  containers?: { name?: string; usage?: { cpu?: string; memory?: string } }[];
}

const CPU_SUFFIX: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1 };
const MEMORY_SUFFIX: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** A CPU quantity (`250m`, `12345678n`, `2`) in cores; undefined when it is not one. */
export function cpuCores(quantity: string | undefined): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(n|u|m|)$/.exec(quantity ?? '');
  return match ? Number(match[1]) * CPU_SUFFIX[match[2]] : undefined;
}

/** A memory quantity (`1234Ki`, `64Mi`, `1G`, `1048576`) in bytes; undefined when it is not one. */
export function memoryBytes(quantity: string | undefined): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T|)$/.exec(quantity ?? '');
  return match ? Math.round(Number(match[1]) * MEMORY_SUFFIX[match[2]]) : undefined;
}

/**
 * Each replica's status joined with its pod's metrics (all containers summed: the runner and, on
 * a Python node, nothing else; init containers have ended). A pod the metrics API has not
 * scraped yet has no figures.
 */
export function replicaUsageOf(
  replicas: readonly (ReplicaStatus & { pod: string })[],
  metrics: readonly PodMetrics[],
): ReplicaUsage[] {
  const byPod = new Map(metrics.map((m) => [m.metadata?.name ?? '', m]));
  return replicas.map(({ pod, workloadId, replica, state, restarts }) => {
    const m = byPod.get(pod);
    const cpu = m?.containers?.map((c) => cpuCores(c.usage?.cpu));
    const memory = m?.containers?.map((c) => memoryBytes(c.usage?.memory));
    const sum = (values?: (number | undefined)[]) =>
      values?.length && values.every((v) => v !== undefined)
        ? values.reduce<number>((a, b) => a + b, 0)
        : undefined;
    const cores = sum(cpu);
    const bytes = sum(memory);
    return {
      workloadId,
      replica,
      state,
      restarts,
      ...(cores !== undefined ? { cpuCores: cores } : {}),
      ...(bytes !== undefined ? { memoryBytes: bytes } : {}),
    };
  });
}
