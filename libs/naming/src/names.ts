import { createHash } from 'node:crypto';

/**
 * Every name KRE creates (subjects, streams, consumers, buckets, databases, queues, Kubernetes
 * objects) is made here, from the installation prefix and the runtime/version/workflow/node
 * slugs. Slugs contain only `[a-z0-9-]` and never `--`, so `.` and `_` are unambiguous separators.
 * The table lives in docs/architecture.md ("Names").
 */

/** A name with its limit, so callers (the KRT validator) can say which derived name is too long. */
export interface NameLimit {
  readonly what: string;
  readonly limit: number;
}

/** Kubernetes DNS labels (namespaces, object names) and label values. */
export const K8S_NAME_MAX = 63;
/** MongoDB database names (MongoDB 7: 64 bytes; FerretDB v1: 63). */
export const MONGO_DB_MAX = 63;
/** NATS stream, consumer, bucket and object store names: a filesystem-safe limit of our own choosing. */
export const NATS_NAME_MAX = 255;
/** NATS subjects have no hard limit; keep them bounded so headers and logs stay readable. */
export const NATS_SUBJECT_MAX = 255;

/** `Execute DL Model` → `execute-dl-model` (KRT v1 display names). */
export function slugify(displayName: string): string {
  return displayName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** `v-<slug of parts, cut to fit>-<6-char hash of the exact tuple>`: unique and ≤ 63 characters. */
export function hashedK8sName(parts: readonly string[]): string {
  const hash = createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 6);
  const room = K8S_NAME_MAX - 'v-'.length - '-'.length - hash.length;
  const slug = parts.join('-').slice(0, room).replace(/-+$/, '');
  return `v-${slug}-${hash}`;
}

/** Names of one installation (one `KRE_PREFIX`). */
export class Names {
  private readonly upper: string;

  constructor(readonly prefix: string) {
    this.upper = prefix.toUpperCase();
  }

  // Platform
  platformDb(): string {
    return this.prefix;
  }
  queuePrefix(): string {
    return this.prefix;
  }
  gatewayBucket(): string {
    return `${this.prefix}_gateway`;
  }
  /** Invocation keys and `requireInvocationKey` per runtime (admin-api writes, gateways watch). */
  invocationKeysBucket(): string {
    return `${this.prefix}_invocation_keys`;
  }
  /** Where gateways report that an invocation key was used (admin-api records `lastUsedAt`). */
  invocationKeyUsedSubject(): string {
    return this.serviceSubject('gateway', 'key-used');
  }
  /**
   * Where gateways report that a version got calls (at most once every few seconds per version
   * and gateway): the deployer's idle clock (docs/lifecycle.md, "Sleep and wake").
   */
  versionActivitySubject(): string {
    return this.serviceSubject('gateway', 'activity');
  }
  /** Where a gateway asks the deployer to wake a sleeping version (request/reply). */
  wakeRequestSubject(): string {
    return this.serviceSubject('gateway', 'wake');
  }
  /**
   * Inbox prefix of an engine app whose identity receives replies only under its own prefix (not
   * `_INBOX.>`, where it could read other apps' replies).
   */
  engineInboxPrefix(app: string): string {
    return `_INBOX_${this.prefix}_${app}`;
  }
  /** Request/reply subject of one of our own services (Nest NATS transport). */
  serviceSubject(service: string, pattern: string): string {
    return `${this.prefix}.svc.${service}.${pattern}`;
  }

  // Runtime
  runtimeDb(rt: string): string {
    return `${this.prefix}_${rt}`;
  }
  runtimeDataDb(rt: string): string {
    return `${this.prefix}_${rt}_data`;
  }
  namespace(rt: string): string {
    return `${this.prefix}-${rt}`;
  }
  obsStream(rt: string): string {
    return `${this.upper}_${rt}_OBS`;
  }
  obsPrefix(rt: string): string {
    return `${this.prefix}.${rt}.obs`;
  }
  obsSubject(rt: string, kind: 'logs' | 'metrics' | 'predictions' | 'measurements'): string {
    return `${this.obsPrefix(rt)}.${kind}`;
  }
  /**
   * mongo-writer's durable consumer on every runtime's observability stream. Prefixed, so the
   * permissions granted on it (any stream, this consumer only) never reach another installation's.
   */
  obsConsumer(): string {
    return `${this.prefix}-mongo-writer`;
  }
  /**
   * Where a runtime's workloads publish their spans (OTLP/HTTP JSON export bodies, core NATS),
   * for mongo-writer to forward to the installation's OTLP endpoint. Outside `<p>.<rt>.obs.>`
   * on purpose: the observability stream would store them against the runtime's quota, and its
   * record ingestion would take them for broken records.
   */
  tracesSubject(rt: string): string {
    return `${this.prefix}.${rt}.traces`;
  }
  /** mongo-writer replicas' queue group on every runtime's traces subject (one forwards each). */
  tracesQueue(): string {
    return `${this.prefix}-mongo-writer-traces`;
  }
  dataPrefix(rt: string): string {
    return `${this.prefix}.${rt}.data`;
  }
  dataSubject(rt: string, op: 'save' | 'find'): string {
    return `${this.dataPrefix(rt)}.${op}`;
  }
  krtBucket(rt: string): string {
    return `${this.prefix}_${rt}_krt`;
  }

  // Version / workflow / node
  workflowStream(rt: string, ver: string, wf: string): string {
    return `${this.upper}_${rt}_${ver}_${wf}`;
  }
  workflowSubjectRoot(rt: string, ver: string, wf: string): string {
    return `${this.prefix}.${rt}.wf.${ver}.${wf}`;
  }
  entrypointSubject(rt: string, ver: string, wf: string): string {
    return `${this.workflowSubjectRoot(rt, ver, wf)}.entrypoint`;
  }
  nodeSubject(rt: string, ver: string, wf: string, node: string, channel?: string): string {
    const base = `${this.workflowSubjectRoot(rt, ver, wf)}.${node}`;
    return channel ? `${base}.${channel}` : base;
  }
  /** Where one entrypoint replica receives its requests' answers (core NATS, `kre-reply-to`). */
  entrypointReplySubject(rt: string, ver: string, replica: string): string {
    return `${this.prefix}.${rt}.reply.${ver}.${replica}`;
  }
  /** Every subject of a version's workflows (its streams' subjects): `<p>.<rt>.wf.<ver>.>`. */
  versionSubjects(rt: string, ver: string): string {
    return `${this.prefix}.${rt}.wf.${ver}.>`;
  }
  /** Every reply subject of a version's entrypoint replicas. */
  versionReplySubjects(rt: string, ver: string): string {
    return this.entrypointReplySubject(rt, ver, '*');
  }
  /**
   * Inbox prefix of a version's workloads (`inboxPrefix` of their NATS connections): their
   * credentials let them receive replies only under it, so no tenant reads another's replies.
   */
  workloadInboxPrefix(rt: string, ver: string): string {
    return `_INBOX_${this.prefix}_${rt}_${ver}`;
  }
  /** Name of a version's NATS user (shown by the server; the key is what authorizes). */
  workloadUser(rt: string, ver: string): string {
    return `${this.prefix}-${rt}-${ver}`;
  }
  /**
   * Engine-only bucket: what the deployer pinned for each running version (its NATS identity,
   * its KRT copy's digest), keyed `<rt>.<ver>`.
   */
  deploymentsBucket(): string {
    return `${this.prefix}_deployments`;
  }
  /** Durable consumer of `node` reading `input` (a node or `entrypoint`), optionally one channel. */
  consumer(node: string, input: string, channel?: string): string {
    return channel ? `${node}_${input}_${channel}` : `${node}_${input}`;
  }
  projectBucket(rt: string, ver: string): string {
    return `${this.prefix}_${rt}_${ver}`;
  }
  workflowBucket(rt: string, ver: string, wf: string): string {
    return `${this.prefix}_${rt}_${ver}_${wf}`;
  }
  nodeBucket(rt: string, ver: string, wf: string, node: string): string {
    return `${this.prefix}_${rt}_${ver}_${wf}_${node}`;
  }
  objectStore(rt: string, ver: string, store: string, wf?: string): string {
    return wf
      ? `${this.prefix}_${rt}_${ver}_${wf}_${store}`
      : `${this.prefix}_${rt}_${ver}_${store}`;
  }
  /** Kubernetes object of a version's workload (`node` absent for the entrypoint). */
  k8sObject(ver: string, wf?: string, node?: string): string {
    return hashedK8sName([ver, ...(wf ? [wf] : []), ...(node ? [node] : [])]);
  }
  /** State dir of the local driver: `<state-home>/<p>/`. */
  localStateDir(stateHome: string): string {
    return `${stateHome}/${this.prefix}`;
  }
}

/** Version documents are keyed `<rt>:<ver>`, KRT chunks `<rt>:<ver>:<n>`. */
export const keys = {
  version: (rt: string, ver: string) => `${rt}:${ver}`,
  krtChunk: (rt: string, ver: string, n: number) => `${rt}:${ver}:${n}`,
} as const;
