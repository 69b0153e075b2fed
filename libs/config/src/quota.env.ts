import { parseCpu, parseDuration, parseMemory, type RuntimeQuota } from '@libs/core';
import { z } from 'zod';

/** A size in Kubernetes's units (`16Gi`, `512Mi`), as bytes. */
const size = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const parsed = parseMemory(text);
      if (parsed.ok) return parsed.value;
      ctx.addIssue({ code: 'custom', message: parsed.reason });
      return z.NEVER;
    });

const cpus = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const parsed = parseCpu(text);
      if (parsed.ok) return parsed.value;
      ctx.addIssue({ code: 'custom', message: parsed.reason });
      return z.NEVER;
    });

/** A duration (`7d`, `36h`, `90m`), as milliseconds; at least `min`. */
const duration = (fallback: string, min: number) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const parsed = parseDuration(text, min);
      if (parsed.ok) return parsed.value;
      ctx.addIssue({ code: 'custom', message: parsed.reason });
      return z.NEVER;
    });

/** The least observability stream a quota may give: below, records would go before they are stored. */
export const MIN_OBS_BYTES = 2 ** 20;
export const MIN_OBS_MAX_AGE_MS = 60_000;

/**
 * The quota a runtime gets when it is created, and the one a runtime from before quotas has
 * (issue #13): read by admin-api (stores and shows it) and the deployer (enforces it). Platform
 * admins change a runtime's own with `setRuntimeQuota`.
 */
export const runtimeQuotaEnv = {
  /** Workload replicas of all the runtime's started versions (each version's entrypoint is one). */
  RUNTIME_QUOTA_REPLICAS: z.coerce.number().int().min(0).max(100_000).default(32),
  /** The sum of those replicas' memory limits. */
  RUNTIME_QUOTA_MEMORY: size('32Gi'),
  /** The sum of their CPU limits (`8`, `0.5`, `500m`). */
  RUNTIME_QUOTA_CPU: cpus('32'),
  /** GPUs (one per replica of a `gpu: true` node). */
  RUNTIME_QUOTA_GPUS: z.coerce.number().int().min(0).max(100_000).default(0),
  /** JetStream storage: the max_bytes of the versions' workflow streams, KV buckets and object stores. */
  RUNTIME_QUOTA_STORAGE: size('16Gi'),
  /** `max_bytes` of the runtime's observability stream (records waiting for mongo-writer); at least 1Mi. */
  RUNTIME_QUOTA_OBS_BYTES: size('1Gi').refine((bytes) => bytes >= MIN_OBS_BYTES, {
    message: 'must be at least 1Mi',
  }),
  /** `max_age` of that stream (`7d`, `36h`, `90m`); at least 1m. */
  RUNTIME_QUOTA_OBS_MAX_AGE: duration('7d', MIN_OBS_MAX_AGE_MS),
};

/** The installation's default quota from the parsed env. */
export function defaultRuntimeQuota(env: {
  RUNTIME_QUOTA_REPLICAS: number;
  RUNTIME_QUOTA_MEMORY: number;
  RUNTIME_QUOTA_CPU: number;
  RUNTIME_QUOTA_GPUS: number;
  RUNTIME_QUOTA_STORAGE: number;
  RUNTIME_QUOTA_OBS_BYTES: number;
  RUNTIME_QUOTA_OBS_MAX_AGE: number;
}): RuntimeQuota {
  return {
    replicas: env.RUNTIME_QUOTA_REPLICAS,
    memoryBytes: env.RUNTIME_QUOTA_MEMORY,
    cpuMillis: env.RUNTIME_QUOTA_CPU,
    gpus: env.RUNTIME_QUOTA_GPUS,
    storageBytes: env.RUNTIME_QUOTA_STORAGE,
    obsBytes: env.RUNTIME_QUOTA_OBS_BYTES,
    obsMaxAgeMs: env.RUNTIME_QUOTA_OBS_MAX_AGE,
  };
}

/**
 * The deployer's: `max_bytes` of each workflow stream, KV bucket and object store of a version,
 * which the runtime's storage quota counts.
 */
export const workflowStreamEnv = {
  WORKFLOW_STREAM_MAX_SIZE: size('256Mi'),
  KV_BUCKET_MAX_SIZE: size('16Mi'),
  OBJECT_STORE_MAX_SIZE: size('1Gi'),
};
