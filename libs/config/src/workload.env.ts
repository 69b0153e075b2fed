import { z } from 'zod';
import { SLUG, jsonEnv } from './env.fragments.js';

const slug = (what: string) =>
  z
    .string({ error: 'is required' })
    .regex(SLUG, { error: `must be a ${what} slug ([a-z0-9-], starting with a letter)` });
const port = z.coerce.number({ error: 'is required' }).int().min(1).max(65_535);
const bool = z.enum(['true', 'false']).transform((v) => v === 'true');

/**
 * The environment every workload (entrypoint, runner) gets from the orchestrator, with KRE's
 * `KRT_*` names (docs/architecture.md, "How a workload is started").
 */
export const workloadEnv = {
  KRT_RUNTIME_ID: slug('runtime'),
  KRT_VERSION: slug('version'),
  KRT_VERSION_ID: z.string({ error: 'is required' }).min(1),
  KRT_NATS_SERVER: z.string({ error: 'is required' }).min(1),
  /** The version's NATS identity: a `.creds` file the driver writes (never on a command line). */
  KRT_NATS_CREDS: z.string({ error: 'is required' }).min(1),
  /** Where the workload's NATS replies come back: its credentials allow no other inbox. */
  KRT_NATS_INBOX_PREFIX: z.string({ error: 'is required' }).regex(/^_INBOX_[A-Za-z0-9_-]+$/, {
    error: 'must be an inbox prefix (_INBOX_<name>)',
  }),
  KRT_BASE_PATH: z.string({ error: 'is required' }).min(1),
  KRT_HEALTH_PORT: port,
  /**
   * Where the workload's servers (health; the entrypoint's gRPC and HTTP) listen. Loopback by
   * default: on one machine only the engine reaches them; Kubernetes pods set 0.0.0.0 (kubelet
   * probes and Services reach the pod's address).
   */
  KRT_LISTEN_HOST: z.string().min(1).default('127.0.0.1'),
  KRT_NATS_OBS_PREFIX: z.string({ error: 'is required' }).min(1),
  KRT_NATS_DATA_PREFIX: z.string({ error: 'is required' }).min(1),
  /**
   * Set when the installation exports traces: the workload publishes its spans there (OTLP JSON,
   * core NATS; its runtime's `<p>.<rt>.traces`) and mongo-writer forwards them to the OTLP
   * endpoint, which workloads never reach themselves. Unset: no spans are made.
   */
  KRT_NATS_TRACES_SUBJECT: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, {
      error: 'must be a NATS subject (tokens of letters, digits, _ and -)',
    })
    .optional(),
};

const seconds = (fallback: number, max: number) =>
  z.coerce
    .number({ error: 'must be a number of seconds' })
    .positive({ error: 'must be a positive number of seconds' })
    .max(max)
    .default(fallback);

/** Comma-separated names (`A,B,C`), trimmed, empties dropped. */
const nameList = z
  .string()
  .optional()
  .transform((raw) =>
    (raw ?? '')
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean),
  );

/** rpc → where its requests go. */
export const entrypointRoutesSchema = z.record(
  z.string(),
  z.object({ workflow: z.string(), stream: z.string(), subject: z.string() }),
);

export const entrypointWorkloadEnv = {
  ...workloadEnv,
  KRT_GRPC_PORT: port,
  KRT_HTTP_PORT: port,
  /** The version's `.proto`, relative to `KRT_BASE_PATH` (the manifest's `entrypoint.proto`). */
  KRT_ENTRYPOINT_PROTO: z.string({ error: 'is required' }).min(1),
  /** Seconds, as KRE had it (fractions allowed); longer than any node's handler timeout. */
  KRT_REQUEST_TIMEOUT: seconds(30, 3_600),
  /** Largest request body (HTTP) or message (gRPC) accepted, in bytes. */
  KRT_MAX_REQUEST_BYTES: z.coerce
    .number()
    .int()
    .min(1_024)
    .default(16 * 1024 * 1024),
  KRT_ENTRYPOINT_ROUTES: jsonEnv(entrypointRoutesSchema),
};

export const runnerWorkloadEnv = {
  ...workloadEnv,
  KRT_WORKFLOW_NAME: slug('workflow'),
  KRT_NODE_NAME: z.string({ error: 'is required' }).min(1),
  KRT_NODE_ID: slug('node'),
  KRT_HANDLER_PATH: z.string({ error: 'is required' }).min(1),
  KRT_NATS_STREAM: z.string({ error: 'is required' }).min(1),
  /** Comma-separated `subject=consumer` pairs. */
  KRT_NATS_INPUTS: z.string({ error: 'is required' }).transform((raw, ctx) => {
    const pairs = raw.split(',').map((pair) => pair.trim().split('='));
    if (pairs.some((p) => p.length !== 2 || !p[0] || !p[1])) {
      ctx.addIssue({ code: 'custom', message: 'must be comma-separated subject=consumer pairs' });
      return z.NEVER;
    }
    return pairs.map(([subject, consumer]) => ({ subject: subject, consumer: consumer }));
  }),
  KRT_NATS_OUTPUT: z.string({ error: 'is required' }).min(1),
  KRT_IS_EXITPOINT: bool.default(false),
  KRT_NATS_KEY_VALUE_STORE_PROJECT: z.string().min(1).optional(),
  KRT_NATS_KEY_VALUE_STORE_WORKFLOW: z.string().min(1).optional(),
  KRT_NATS_KEY_VALUE_STORE_NODE: z.string().min(1).optional(),
  KRT_NATS_OBJECT_STORE: z.string().min(1).optional(),
  /** The version's `.proto`, relative to `KRT_BASE_PATH`: runners decode typed payloads with it. */
  KRT_ENTRYPOINT_PROTO: z.string().min(1).optional(),
  /** Seconds one handler call may take (shorter than the entrypoint's KRT_REQUEST_TIMEOUT). */
  KRT_HANDLER_TIMEOUT: seconds(25, 3_600),
  /** Messages one replica handles at once. */
  KRT_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(10_000).default(16),
  /**
   * Adaptive batching (the node's KRT `batch`): at most this many messages per call of the
   * node's batch handler. Unset: one message per call, as KRE ran every node.
   */
  KRT_BATCH_MAX_SIZE: z.coerce.number().int().min(1).max(1_024).optional(),
  /** With KRT_BATCH_MAX_SIZE: how long a batch waits for more after its first message. */
  KRT_BATCH_MAX_LATENCY_MS: z.coerce.number().int().min(0).max(10_000).optional(),
  /** Names of the version's config variables (each is also an env var): `ctx.config`. */
  KRT_CONFIG_KEYS: nameList,
  KRT_CONFIG_FILES_DIR: z.string().min(1).optional(),
};

/** The env var that makes the runner program a version's shared process (`runner shared`). */
export const SHARED_WORKLOADS_ENV = 'KRT_SHARED_WORKLOADS';

/**
 * The workloads one shared process runs (the local driver's `sharedProcess`, docs/lifecycle.md,
 * "Density"): each with the part of its env that differs from the process's own (what all of them
 * have in common is the process's env).
 */
export const sharedWorkloadsSchema = z
  .array(
    z.object({
      id: z.string().min(1),
      program: z.enum(['entrypoint', 'runner']),
      env: z.record(z.string(), z.string()),
    }),
  )
  .min(1, { error: 'lists no workload' })
  .refine((list) => list.filter((w) => w.program === 'entrypoint').length <= 1, {
    error: 'lists more than one entrypoint',
  });
export type SharedWorkloads = z.infer<typeof sharedWorkloadsSchema>;

export const sharedProcessEnv = {
  [SHARED_WORKLOADS_ENV]: jsonEnv(sharedWorkloadsSchema),
};

/**
 * The values of the version's config variables (`KRT_CONFIG_KEYS`) from the environment; a
 * declared key that is unset reads as "".
 */
export function workloadConfigValues(
  keys: readonly string[],
  source: Record<string, string | undefined> = process.env,
): Record<string, string> {
  return Object.fromEntries(keys.map((key) => [key, source[key] ?? '']));
}

/**
 * What a driver decides of a workload's env (its paths, ports, listen address and credentials
 * file); everything else comes from the deployment plan.
 */
export const DRIVER_DECIDED_ENV = [
  'KRT_BASE_PATH',
  'KRT_CONFIG_FILES_DIR',
  'KRT_NATS_CREDS',
  'KRT_LISTEN_HOST',
  'KRT_HEALTH_PORT',
  'KRT_GRPC_PORT',
  'KRT_HTTP_PORT',
] as const;
type DriverDecided = (typeof DRIVER_DECIDED_ENV)[number];

type Shape = Record<string, z.ZodType>;
type OptionalKeys<S extends Shape> = {
  [K in keyof S]: undefined extends z.input<S[K]> ? K : never;
}[keyof S];

/**
 * The env a deployment plan gives a workload of schema `S`: every variable the workload requires
 * (but the driver's), as strings; a missing one is a type error where the plan is made.
 */
export type PlannedWorkloadEnv<S extends Shape> = {
  [K in Exclude<keyof S, OptionalKeys<S> | DriverDecided>]: string;
} & { [K in Exclude<OptionalKeys<S>, DriverDecided>]?: string };

/** The env a driver adds: paths, the credentials file and the ports it picked. */
export interface DriverWorkloadEnv {
  KRT_BASE_PATH: string;
  KRT_CONFIG_FILES_DIR: string;
  KRT_NATS_CREDS: string;
  KRT_LISTEN_HOST?: string;
  KRT_HEALTH_PORT: string;
  KRT_GRPC_PORT?: string;
  KRT_HTTP_PORT?: string;
}

/** Drops unset entries: the env as the process gets it. */
function defined(values: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

/**
 * The plan's part of a workload's env, checked against the workload's schema (`workloadEnv`,
 * `entrypointWorkloadEnv`, `runnerWorkloadEnv`) at build time. Extra entries (the version's config
 * variables, `KRE_PREFIX`) pass through.
 */
export function plannedWorkloadEnv<S extends Shape>(
  _schema: S,
  values: PlannedWorkloadEnv<S> & Record<string, string | undefined>,
): Record<string, string> {
  return defined(values);
}

/** The driver's part of a workload's env (both drivers build it here). */
export function driverWorkloadEnv(values: DriverWorkloadEnv): Record<string, string> {
  return defined({ ...values });
}

/**
 * The runner's env contract as JSON Schema (input form): checked in beside the Python runner
 * (runners/python/src/kre_runner/workload_env.schema.json), which validates its env with it; a
 * test keeps the two equal.
 */
export function runnerEnvJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(z.object(runnerWorkloadEnv), { io: 'input', unrepresentable: 'any' });
}
