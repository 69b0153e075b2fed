/**
 * A runtime's quota (issue #13) and the arithmetic of what its versions use: pure, shared by the
 * admin API (stores and shows it), the KRT reader (a node's `resources`) and the deployer
 * (refuses a start over it; the drivers apply it).
 */

/** What a runtime may hold at once, over all its started versions. */
export interface RuntimeQuota {
  /** Workload replicas (every version's entrypoint counts one). */
  readonly replicas: number;
  /** The sum of the replicas' memory limits, in bytes. */
  readonly memoryBytes: number;
  /** The sum of the replicas' CPU limits, in thousandths of a CPU. */
  readonly cpuMillis: number;
  /** GPUs (one per replica of a `gpu: true` node). */
  readonly gpus: number;
  /** JetStream storage (`max_bytes`) of the versions' workflow streams, KV buckets and object stores, in bytes. */
  readonly storageBytes: number;
  /**
   * `max_bytes` of the runtime's observability stream `<P>_<rt>_OBS`: past it the oldest records
   * not yet stored are dropped (and counted). Not a sum over versions: the stream is the runtime's.
   */
  readonly obsBytes: number;
  /** `max_age` of that stream, in milliseconds: older records not yet stored are dropped. */
  readonly obsMaxAgeMs: number;
}

/** The fields a start is checked against: what versions hold, summed. */
export type QuotaField = (typeof QUOTA_FIELDS)[number];

/** What a version (or several) holds, in the quota's terms. */
export type QuotaUsage = Pick<RuntimeQuota, QuotaField>;

/** One replica's limits: the node's `resources`, else the installation's default. */
export interface ReplicaResources {
  readonly memoryBytes: number;
  readonly cpuMillis: number;
}

export const QUOTA_FIELDS = [
  'replicas',
  'memoryBytes',
  'cpuMillis',
  'gpus',
  'storageBytes',
] as const;

export const NO_USAGE: QuotaUsage = Object.freeze({
  replicas: 0,
  memoryBytes: 0,
  cpuMillis: 0,
  gpus: 0,
  storageBytes: 0,
});

/** Field-by-field sum. */
export function addUsage(...usages: readonly QuotaUsage[]): QuotaUsage {
  const sum = { ...NO_USAGE };
  for (const usage of usages) for (const field of QUOTA_FIELDS) sum[field] += usage[field];
  return sum;
}

const MEMORY_UNITS: Record<string, number> = {
  '': 1,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
};
const MEMORY = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|K|M|G|T)?$/;
const CPU = /^(\d+(?:\.\d+)?)(m)?$/;

/** Why a quantity could not be read (the caller names the field). */
export type QuantityResult = { ok: true; value: number } | { ok: false; reason: string };

/**
 * A memory or storage size as Kubernetes writes it: `512Mi`, `1Gi`, `1.5Gi`, `500M`, or bytes;
 * whole bytes, at least one.
 */
export function parseMemory(text: unknown): QuantityResult {
  const raw = typeof text === 'number' ? String(text) : text;
  const match = typeof raw === 'string' ? MEMORY.exec(raw.trim()) : null;
  if (!match)
    return {
      ok: false,
      reason: `must be a size such as "512Mi", "1Gi" or "1.5G" (units Ki, Mi, Gi, Ti, k, M, G, T; none = bytes), not ${JSON.stringify(text) ?? 'empty'}`,
    };
  const value = Math.round(Number(match[1]) * MEMORY_UNITS[match[2] ?? '']);
  if (value < 1)
    return { ok: false, reason: `must be more than zero, not ${JSON.stringify(text)}` };
  if (!Number.isSafeInteger(value))
    return { ok: false, reason: `is too large: ${JSON.stringify(text)}` };
  return { ok: true, value };
}

/** CPUs as Kubernetes writes them: `0.5`, `2`, `250m`; at least `1m`, in thousandths. */
export function parseCpu(text: unknown): QuantityResult {
  const raw = typeof text === 'number' ? String(text) : text;
  const match = typeof raw === 'string' ? CPU.exec(raw.trim()) : null;
  if (!match)
    return {
      ok: false,
      reason: `must be CPUs such as "0.5", "2" or "250m" (thousandths), not ${JSON.stringify(text) ?? 'empty'}`,
    };
  // Rounded first: 1.005 * 1000 is 1004.9999999999999 in binary floating point.
  const millis = Math.round((match[2] ? Number(match[1]) : Number(match[1]) * 1_000) * 1e6) / 1e6;
  if (!Number.isInteger(millis))
    return {
      ok: false,
      reason: `has a precision finer than 1m (a thousandth of a CPU): ${JSON.stringify(text)}`,
    };
  if (millis < 1)
    return { ok: false, reason: `must be more than zero, not ${JSON.stringify(text)}` };
  if (!Number.isSafeInteger(millis))
    return { ok: false, reason: `is too large: ${JSON.stringify(text)}` };
  return { ok: true, value: millis };
}

const DURATION_UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+)(s|m|h|d)$/;

/**
 * A duration such as `7d`, `36h`, `90m` or `30s` (one whole number and unit), in milliseconds;
 * at least `min` (milliseconds).
 */
export function parseDuration(text: unknown, min = 1_000): QuantityResult {
  const raw = typeof text === 'string' ? text.trim() : text;
  const match = typeof raw === 'string' ? DURATION.exec(raw) : null;
  if (!match)
    return {
      ok: false,
      reason: `must be a duration such as "7d", "36h", "90m" or "30s" (a whole number and one unit: d, h, m, s), not ${JSON.stringify(text) ?? 'empty'}`,
    };
  const value = Number(match[1]) * (DURATION_UNITS[match[2] ?? 's'] ?? 1_000);
  if (!Number.isSafeInteger(value))
    return { ok: false, reason: `is too long: ${JSON.stringify(text)}` };
  if (value < min)
    return {
      ok: false,
      reason: `must be at least ${formatDuration(min)}, not ${JSON.stringify(text)}`,
    };
  return { ok: true, value };
}

/** Milliseconds in the largest unit that divides them (`7d`, `36h`, `90m`; else `1500ms`). */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = DURATION_UNITS[unit] ?? 1_000;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Bytes in the largest binary unit that divides them (`1Gi`, `1536Mi`, `100`). */
export function formatMemory(bytes: number): string {
  for (const unit of ['Ti', 'Gi', 'Mi', 'Ki'] as const) {
    const size = MEMORY_UNITS[unit];
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}

/** Thousandths of a CPU as Kubernetes writes them: `2`, `500m`. */
export function formatCpu(millis: number): string {
  return millis % 1_000 === 0 ? String(millis / 1_000) : `${millis}m`;
}

/** One resource of a start that does not fit the runtime's quota. */
export interface QuotaExcess {
  readonly field: QuotaField;
  /** What the version asks. */
  readonly wanted: number;
  /** What the runtime's other versions hold. */
  readonly used: number;
  readonly quota: number;
  /** `used + wanted - quota` (> 0). */
  readonly over: number;
}

/** Every resource for which `used + wanted` exceeds `quota`. */
export function quotaExcesses(
  quota: QuotaUsage,
  used: QuotaUsage,
  wanted: QuotaUsage,
): QuotaExcess[] {
  return QUOTA_FIELDS.flatMap((field) => {
    const over = used[field] + wanted[field] - quota[field];
    return over > 0
      ? [{ field, wanted: wanted[field], used: used[field], quota: quota[field], over }]
      : [];
  });
}

const LABELS: Record<QuotaExcess['field'], string> = {
  replicas: 'replicas',
  memoryBytes: 'memory',
  cpuMillis: 'CPU',
  gpus: 'GPUs',
  storageBytes: 'storage',
};

function amount(field: QuotaExcess['field'], value: number): string {
  if (field === 'memoryBytes' || field === 'storageBytes') return formatMemory(value);
  if (field === 'cpuMillis') return formatCpu(value);
  return String(value);
}

/** "memory: this version needs 2Gi, other started versions hold 1Gi, the quota is 2Gi (1Gi over)". */
export function describeExcess(excess: QuotaExcess): string {
  const f = (v: number) => amount(excess.field, v);
  return `${LABELS[excess.field]}: this version needs ${f(excess.wanted)}, the runtime's other versions hold ${f(excess.used)}, the quota is ${f(excess.quota)} (${f(excess.over)} over)`;
}
