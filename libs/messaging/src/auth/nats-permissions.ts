import type { Names } from '@libs/naming';
import type { VersionResources } from '../version-resources.js';

/**
 * What each NATS identity may publish and subscribe to, as allow-lists (everything else is
 * denied by the server). Derived from the names' own builders and from a version's one
 * enumeration of resources (`planVersionResources`), never written out by hand elsewhere.
 * docs/security.md ("NATS identities") has the table.
 */
export interface NatsPermissions {
  readonly pub: readonly string[];
  readonly sub: readonly string[];
  /** May answer the requests it receives (publish once to each request's reply subject). */
  readonly allowResponses?: boolean;
}

/** The engine's apps, each with an identity of its own. */
export const ENGINE_APPS = ['deployer', 'admin-api', 'gateway', 'mongo-writer'] as const;
export type EngineApp = (typeof ENGINE_APPS)[number];

/** JetStream API subjects of one stream (`$JS.API.<op>.<stream>`), by what a client does. */
const js = {
  info: (stream: string) => `$JS.API.STREAM.INFO.${stream}`,
  msgGet: (stream: string) => `$JS.API.STREAM.MSG.GET.${stream}`,
  msgDelete: (stream: string) => `$JS.API.STREAM.MSG.DELETE.${stream}`,
  purge: (stream: string) => `$JS.API.STREAM.PURGE.${stream}`,
  create: (stream: string) => `$JS.API.STREAM.CREATE.${stream}`,
  directGet: (stream: string) => `$JS.API.DIRECT.GET.${stream}.>`,
  directGetLast: (stream: string) => `$JS.API.DIRECT.GET.${stream}`,
  consumerInfo: (stream: string) => `$JS.API.CONSUMER.INFO.${stream}.>`,
  consumerList: (stream: string) => `$JS.API.CONSUMER.LIST.${stream}`,
  consumerNext: (stream: string) => `$JS.API.CONSUMER.MSG.NEXT.${stream}.>`,
  consumerCreate: (stream: string) => [
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
  ],
  consumerDelete: (stream: string) => `$JS.API.CONSUMER.DELETE.${stream}.>`,
  ack: (stream: string) => `$JS.ACK.${stream}.>`,
  flowControl: (stream: string) => `$JS.FC.${stream}.>`,
};

/**
 * Reading a stream through ordered consumers and direct gets (KV get/keys/watch, object store
 * get): the consumer may be made and removed, nothing stored may change.
 */
function streamReader(stream: string): string[] {
  return [
    js.info(stream),
    js.msgGet(stream),
    js.directGet(stream),
    js.directGetLast(stream),
    ...js.consumerCreate(stream),
    js.consumerDelete(stream),
    js.consumerInfo(stream),
    js.consumerNext(stream),
    js.ack(stream),
    js.flowControl(stream),
  ];
}

/** Read and write access to a KV bucket (not its creation or removal). */
export function kvBucketAccess(bucket: string, mode: 'read' | 'write'): string[] {
  const reads = streamReader(`KV_${bucket}`);
  return mode === 'read' ? reads : [...reads, `$KV.${bucket}.>`];
}

/** Read and write access to an object store; deleting an object purges its chunks. */
export function objectStoreAccess(store: string, mode: 'read' | 'write'): string[] {
  const reads = streamReader(`OBJ_${store}`);
  return mode === 'read' ? reads : [...reads, `$O.${store}.>`, js.purge(`OBJ_${store}`)];
}

/**
 * A version's workloads (entrypoint and runners share one identity per version): its own
 * workflow subjects, streams' consumers, KV buckets and object stores; its runtime's
 * observability and data subjects (publish only); its KRT copy (read only); replies under its
 * own inbox prefix. No other runtime's, no engine subject, no stream or bucket creation or
 * removal, no account-wide JetStream call.
 */
export function workloadPermissions(names: Names, resources: VersionResources): NatsPermissions {
  const { runtimeId: rt, version: ver } = resources;
  const streams = resources.workflows.map((workflow) => workflow.stream);
  const pub = [
    names.versionSubjects(rt, ver),
    names.versionReplySubjects(rt, ver),
    `${names.obsPrefix(rt)}.>`,
    // Its spans, relayed by mongo-writer to the OTLP endpoint (never reachable from a workload).
    names.tracesSubject(rt),
    names.dataSubject(rt, 'save'),
    names.dataSubject(rt, 'find'),
    ...streams.flatMap((stream) => [
      js.info(stream),
      js.consumerInfo(stream),
      js.consumerList(stream),
      js.consumerNext(stream),
      js.ack(stream),
      // The entrypoint reads and drops a request's message when a node gave up on it.
      js.msgGet(stream),
      js.msgDelete(stream),
    ]),
    ...resources.keyValueStores.flatMap((bucket) => kvBucketAccess(bucket, 'write')),
    ...resources.objectStores.flatMap((store) => objectStoreAccess(store, 'write')),
    ...objectStoreAccess(resources.krt.bucket, 'read'),
  ];
  const sub = [
    `${names.workloadInboxPrefix(rt, ver)}.>`,
    names.versionReplySubjects(rt, ver),
    ...streams.map((stream) => `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.*`),
  ];
  return { pub: unique(pub), sub: unique(sub) };
}

/** The engine's apps: each what its code uses (docs/security.md). */
export function enginePermissions(names: Names, app: EngineApp): NatsPermissions {
  const svc = `${names.prefix}.svc.>`;
  switch (app) {
    case 'deployer':
      // Provisions and removes every runtime's streams, buckets and stores, mints workloads'
      // identities and answers the admin API: the whole account.
      return { pub: ['>'], sub: ['>'] };
    case 'admin-api':
      return {
        pub: [
          svc,
          '$JS.API.INFO',
          ...kvBucketAccess(names.invocationKeysBucket(), 'write'),
          js.create(`KV_${names.invocationKeysBucket()}`),
        ],
        // watchNodeLogs: every runtime's log lines, live (read only; members are checked in
        // the API, per subscription).
        sub: [svc, '_INBOX.>', names.obsSubject('*', 'logs')],
        allowResponses: true,
      };
    case 'gateway':
      return {
        pub: [
          `${names.prefix}.svc.gateway.>`,
          '$JS.API.INFO',
          ...kvBucketAccess(names.gatewayBucket(), 'read'),
          js.create(`KV_${names.gatewayBucket()}`),
          ...kvBucketAccess(names.invocationKeysBucket(), 'read'),
        ],
        sub: ['_INBOX.>'],
      };
    case 'mongo-writer': {
      // Ingestion of the observability streams `<P>_<rt>_OBS`, runtimes coming and going. NATS
      // wildcards match whole tokens only, and a stream name is one token, so the stream cannot
      // be narrowed to `<P>_*_OBS` here; the consumer name and the filter subject confine it
      // instead: mongo-writer creates, reads and acks only its own durable (`obsConsumer()`),
      // created with a filter on `<p>.*.obs.>` (the server refuses a create whose API subject
      // and filter differ; on a stream without obs subjects such a consumer delivers nothing),
      // so it reads observability records and nothing else. Listing stream names is
      // account-wide (names only; the request's subject filter is not enforceable): it finds
      // new runtimes' streams. No stream management, no `$JS.API.INFO`. Replies only under its
      // own inbox prefix.
      const consumer = names.obsConsumer();
      return {
        pub: [
          '$JS.API.STREAM.NAMES',
          `$JS.API.CONSUMER.CREATE.*.${consumer}.${names.obsPrefix('*')}.>`,
          `$JS.API.CONSUMER.INFO.*.${consumer}`,
          `$JS.API.CONSUMER.MSG.NEXT.*.${consumer}`,
          `$JS.ACK.*.${consumer}.>`,
        ],
        sub: [
          names.dataSubject('*', 'save'),
          names.dataSubject('*', 'find'),
          // Workloads' spans, forwarded to the OTLP endpoint (docs/observability.md, "Traces").
          names.tracesSubject('*'),
          `${names.engineInboxPrefix('mongo-writer')}.>`,
        ],
        allowResponses: true,
      };
    }
  }
}

function unique(subjects: string[]): string[] {
  return [...new Set(subjects)];
}
