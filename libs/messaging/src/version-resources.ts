import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Names } from '@libs/naming';
import {
  applyWorkflowStreams,
  planWorkflowStreams,
  provisionObservabilityStream,
  type ObservabilityStreamLimits,
  type StreamSettings,
  type WorkflowSpec,
  type WorkflowStreamsPlan,
} from './workflow-streams.js';

/**
 * The one enumeration of what NATS holds for a version and for a runtime. Provisioning and
 * removal are driven by it, the deployment plan hands it to drivers, and workloads' NATS
 * permissions are to be derived from it: a resource missing here is missing everywhere.
 */

/** The workflow shape the resources need (structurally a `KrtWorkflow` of `@libs/krt`). */
export interface ResourcesWorkflowSpec extends WorkflowSpec {
  nodes: readonly (WorkflowSpec['nodes'][number] & {
    objectStore?: { name: string; scope: 'workflow' | 'project' };
  })[];
}

/** Buckets of one node (`KRT_NATS_KEY_VALUE_STORE_*`, `KRT_NATS_OBJECT_STORE`). */
export interface NodeStores {
  project: string;
  workflow: string;
  node: string;
  objectStore?: string;
}

/** Everything NATS holds for one version. */
export interface VersionResources {
  readonly runtimeId: string;
  readonly version: string;
  /** One stream and its durable consumers per workflow, with each node's wiring. */
  readonly workflows: readonly WorkflowStreamsPlan[];
  /** KV buckets: the project's, then one per workflow, then one per node. */
  readonly keyValueStores: readonly string[];
  /** Object stores the nodes declare (a shared one once). */
  readonly objectStores: readonly string[];
  /** Each node's buckets, keyed `<workflow>/<node>`. */
  readonly nodeStores: Readonly<Record<string, NodeStores>>;
  /** Where the version's KRT copy lives (object store of the runtime, key = version). */
  readonly krt: { readonly bucket: string; readonly key: string };
  /**
   * `max_bytes` of each KV bucket and object store (the runtime's storage quota counts them, issue
   * #13); absent: unbounded.
   */
  readonly storeMaxBytes?: StoreMaxBytes;
}

/** `max_bytes` of a version's KV buckets and of its object stores. */
export interface StoreMaxBytes {
  readonly keyValue: number;
  readonly objectStore: number;
}

/** Everything NATS holds for one runtime, beside its versions'. */
export interface RuntimeNatsResources {
  /** `<P>_<rt>_OBS` over `<p>.<rt>.obs.>`. */
  readonly observabilityStream: string;
  /** `<p>_<rt>_krt`: the workload copies of the runtime's KRTs. */
  readonly krtBucket: string;
}

/**
 * The resources of one version. Pure: names from `names`, stream settings from `settings`.
 * @throws WorkflowWiringError (see planWorkflowStreams)
 */
export function planVersionResources(
  names: Names,
  runtimeId: string,
  version: string,
  workflows: readonly ResourcesWorkflowSpec[],
  settings: Partial<StreamSettings> = {},
  storeMaxBytes?: StoreMaxBytes,
): VersionResources {
  const project = names.projectBucket(runtimeId, version);
  const workflowBuckets: string[] = [];
  const nodeBuckets: string[] = [];
  const objectStores = new Set<string>();
  const nodeStores: Record<string, NodeStores> = {};
  const plans: WorkflowStreamsPlan[] = [];
  for (const wf of workflows) {
    plans.push(planWorkflowStreams(names, runtimeId, version, wf, settings));
    const workflow = names.workflowBucket(runtimeId, version, wf.name);
    workflowBuckets.push(workflow);
    for (const node of wf.nodes) {
      const nodeBucket = names.nodeBucket(runtimeId, version, wf.name, node.name);
      nodeBuckets.push(nodeBucket);
      const stores: NodeStores = { project, workflow, node: nodeBucket };
      if (node.objectStore) {
        const scope = node.objectStore.scope === 'workflow' ? wf.name : undefined;
        stores.objectStore = names.objectStore(runtimeId, version, node.objectStore.name, scope);
        objectStores.add(stores.objectStore);
      }
      nodeStores[`${wf.name}/${node.name}`] = stores;
    }
  }
  return {
    runtimeId,
    version,
    workflows: plans,
    keyValueStores: [project, ...workflowBuckets, ...nodeBuckets],
    objectStores: [...objectStores],
    nodeStores,
    krt: { bucket: names.krtBucket(runtimeId), key: version },
    ...(storeMaxBytes ? { storeMaxBytes } : {}),
  };
}

/** The resources of a runtime (beside its versions'). */
export function planRuntimeNatsResources(names: Names, runtimeId: string): RuntimeNatsResources {
  return {
    observabilityStream: names.obsStream(runtimeId),
    krtBucket: names.krtBucket(runtimeId),
  };
}

/** A missing resource is what removal wants: anything else is a failure. */
async function ignoreMissing(work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (!/not found|no such|does not exist/i.test(String(error))) throw error;
  }
}

/**
 * Creates (or updates) every stream, consumer, KV bucket and object store of a version.
 * Idempotent: a retried start converges. The KRT copy is written by the start job itself.
 */
export async function provisionVersionResources(
  nc: NatsConnection,
  resources: VersionResources,
  options: { storage?: 'file' | 'memory' } = {},
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const workflow of resources.workflows) await applyWorkflowStreams(jsm, workflow);
  const js = jetstream(nc);
  const kvm = new Kvm(js);
  const objm = new Objm(js);
  const storage = options.storage ?? 'file';
  const limit = resources.storeMaxBytes;
  for (const bucket of resources.keyValueStores) {
    const max = limit ? { max_bytes: limit.keyValue } : {};
    await kvm.create(bucket, { storage, history: 1, ...max });
    // An existing bucket keeps its config through create: its size is set here.
    if (limit) await setMaxBytes(jsm, `KV_${bucket}`, limit.keyValue);
  }
  for (const store of resources.objectStores) {
    await objm.create(store, { storage, ...(limit ? { max_bytes: limit.objectStore } : {}) });
    if (limit) await setMaxBytes(jsm, `OBJ_${store}`, limit.objectStore);
  }
}

/** The stream's `max_bytes`, changed only when it differs. */
async function setMaxBytes(
  jsm: Awaited<ReturnType<typeof jetstreamManager>>,
  stream: string,
  maxBytes: number,
): Promise<void> {
  const { config } = await jsm.streams.info(stream);
  if (config.max_bytes === maxBytes) return;
  const { name, ...update } = config;
  await jsm.streams.update(name, { ...update, max_bytes: maxBytes });
}

/** Deletes a version's workflow streams (their consumers go with them); absent is fine. */
export async function removeVersionStreams(
  nc: NatsConnection,
  resources: Pick<VersionResources, 'workflows'>,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const { stream } of resources.workflows) {
    await ignoreMissing(() => jsm.streams.delete(stream));
  }
}

/** Deletes everything of a version: streams, KV buckets, object stores and its KRT copy. */
export async function removeVersionResources(
  nc: NatsConnection,
  resources: VersionResources,
): Promise<void> {
  await removeVersionStreams(nc, resources);
  const kvm = new Kvm(nc);
  const objm = new Objm(nc);
  for (const bucket of resources.keyValueStores)
    await ignoreMissing(async () => (await kvm.open(bucket)).destroy());
  for (const store of resources.objectStores)
    await ignoreMissing(async () => (await objm.open(store)).destroy());
  await ignoreMissing(async () =>
    (await objm.open(resources.krt.bucket)).delete(resources.krt.key),
  );
}

/**
 * Puts a version's KRT copy (the archive workloads fetch) in place of any earlier one; the
 * sha256 (hex) of what was put, computed here (the store's own digest is the store's word).
 */
export async function storeVersionKrt(
  nc: NatsConnection,
  krt: VersionResources['krt'],
  archive: Readable,
): Promise<string> {
  const store = await new Objm(jetstream(nc)).create(krt.bucket);
  const hash = createHash('sha256');
  const hashed = archive.pipe(
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    }),
  );
  archive.once('error', (error) => hashed.destroy(error));
  await store.put({ name: krt.key }, Readable.toWeb(hashed));
  return hash.digest('hex');
}

/** Creates (or updates) a runtime's observability stream, with its quota's limits. Idempotent. */
export async function provisionRuntimeNatsResources(
  nc: NatsConnection,
  names: Names,
  runtimeId: string,
  obs: ObservabilityStreamLimits = {},
): Promise<RuntimeNatsResources> {
  await provisionObservabilityStream(await jetstreamManager(nc), names, runtimeId, obs);
  return planRuntimeNatsResources(names, runtimeId);
}

/** Deletes a runtime's observability stream and KRT object store; absent is fine. */
export async function removeRuntimeNatsResources(
  nc: NatsConnection,
  resources: RuntimeNatsResources,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await ignoreMissing(() => jsm.streams.delete(resources.observabilityStream));
  await ignoreMissing(async () => (await new Objm(nc).open(resources.krtBucket)).destroy());
}
