const MiB = 1024 * 1024;

/** Bounds on what one KRT may make us read, hold and write. Every one is configurable. */
export interface KrtLimits {
  /** Size of the gzip stream as received (KRE's upload limit was 500 MB). */
  maxCompressedBytes: number;
  /** Size of the tar stream once decompressed (headers included). */
  maxUncompressedBytes: number;
  /** Decompressed / compressed bytes, checked once `ratioGraceBytes` have been decompressed. */
  maxCompressionRatio: number;
  /** Tar headers visited (files, folders and anything else). */
  maxEntries: number;
  /** One file's size. */
  maxFileBytes: number;
  /** One entry path, in UTF-8 bytes. */
  maxPathBytes: number;
  /** Folders above an entry (`a/b/c.txt` has depth 3). */
  maxPathDepth: number;
  /** The manifest (`kre.yaml`): larger documents are refused before parsing. */
  maxManifestBytes: number;
  /** One `.proto` file. */
  maxProtoBytes: number;
  /** All `.proto` files kept in memory while reading. */
  maxProtoTotalBytes: number;
  /** One npm lockfile (`package-lock.json`, `npm-shrinkwrap.json`), checked at upload. */
  maxLockfileBytes: number;
  /** One file read out of a stored KRT (`readKrtDocument`: its docs). */
  maxDocumentBytes: number;
  /** `replicas` of one node. */
  maxReplicas: number;
}

/** The defaults: generous for real KRTs, small enough that a hostile one costs little. */
export const DEFAULT_KRT_LIMITS: Readonly<KrtLimits> = Object.freeze({
  maxCompressedBytes: 500 * MiB,
  maxUncompressedBytes: 2048 * MiB,
  maxCompressionRatio: 100,
  maxEntries: 50_000,
  maxFileBytes: 500 * MiB,
  maxPathBytes: 1024,
  maxPathDepth: 32,
  maxManifestBytes: 1 * MiB,
  maxProtoBytes: 1 * MiB,
  maxProtoTotalBytes: 8 * MiB,
  maxLockfileBytes: 16 * MiB,
  maxDocumentBytes: 1 * MiB,
  maxReplicas: 64,
});

/**
 * Small archives may compress far better than big ones (tar padding is all zeros), so the ratio
 * is only enforced past this many decompressed bytes; the absolute limits cover the rest.
 */
export const RATIO_GRACE_BYTES = 8 * MiB;

/** Runtime ids are 3–15 characters (issue #5); derived names are checked against the longest. */
export const DEFAULT_RUNTIME_ID_MAX_LENGTH = 15;

/** Counters of the work done on one archive (filled in place, also when the read fails). */
export interface KrtReadStats {
  compressedBytes: number;
  uncompressedBytes: number;
  entries: number;
}

/** Options of every entry point. */
export interface KrtOptions {
  /** Installation prefix (`KRE_PREFIX`); derived names are checked with it. Default `kre`. */
  prefix?: string;
  /** The runtime the KRT is for, when known; otherwise names are checked for the longest id. */
  runtimeId?: string;
  /** Longest runtime id to assume when `runtimeId` is not given. */
  runtimeIdMaxLength?: number;
  /** Overrides of `DEFAULT_KRT_LIMITS`. */
  limits?: Partial<KrtLimits>;
  /** Filled with the work done (bytes read, entries visited), for callers that report it. */
  stats?: KrtReadStats;
}

/** Options with every default applied. */
export interface ResolvedKrtOptions {
  prefix: string;
  runtimeId: string;
  runtimeIdIsExact: boolean;
  limits: KrtLimits;
  stats: KrtReadStats;
}

/** Applies the defaults; limits must be positive numbers. */
export function resolveKrtOptions(options: KrtOptions = {}): ResolvedKrtOptions {
  const limits: KrtLimits = { ...DEFAULT_KRT_LIMITS };
  for (const [key, value] of Object.entries(options.limits ?? {}) as [keyof KrtLimits, number][]) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_KRT_LIMITS)) throw new TypeError(`unknown KRT limit "${key}"`);
    if (typeof value !== 'number' || !(value > 0)) {
      throw new TypeError(`KRT limit "${key}" must be a positive number, got ${String(value)}`);
    }
    limits[key] = value;
  }
  const stats = options.stats ?? { compressedBytes: 0, uncompressedBytes: 0, entries: 0 };
  const length = options.runtimeIdMaxLength ?? DEFAULT_RUNTIME_ID_MAX_LENGTH;
  return {
    prefix: options.prefix ?? 'kre',
    runtimeId: options.runtimeId ?? 'x'.repeat(length),
    runtimeIdIsExact: options.runtimeId !== undefined,
    limits,
    stats,
  };
}
