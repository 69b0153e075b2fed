import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Names } from '@libs/naming';

/** The node and workflow shape the stores need (structurally `KrtWorkflow` of `@libs/krt`). */
export interface StoresWorkflowSpec {
  name: string;
  nodes: readonly { name: string; objectStore?: { name: string; scope: 'workflow' | 'project' } }[];
}

/** Buckets of one node (`KRT_NATS_KEY_VALUE_STORE_*`, `KRT_NATS_OBJECT_STORE`). */
export interface NodeStores {
  project: string;
  workflow: string;
  node: string;
  objectStore?: string;
}

/**
 * Creates (or opens) a version's configuration KV buckets (project, workflow, node scopes) and
 * the object stores its nodes declare. Idempotent. Returns each node's buckets, keyed
 * `<workflow>/<node>`.
 */
export async function provisionVersionStores(
  nc: NatsConnection,
  names: Names,
  runtimeId: string,
  version: string,
  workflows: readonly StoresWorkflowSpec[],
  options: { storage?: 'file' | 'memory' } = {},
): Promise<Record<string, NodeStores>> {
  const js = jetstream(nc);
  const kvm = new Kvm(js);
  const objm = new Objm(js);
  const storage = options.storage ?? 'file';
  const project = names.projectBucket(runtimeId, version);
  await kvm.create(project, { storage, history: 1 });
  const out: Record<string, NodeStores> = {};
  for (const wf of workflows) {
    const workflow = names.workflowBucket(runtimeId, version, wf.name);
    await kvm.create(workflow, { storage, history: 1 });
    for (const node of wf.nodes) {
      const nodeBucket = names.nodeBucket(runtimeId, version, wf.name, node.name);
      await kvm.create(nodeBucket, { storage, history: 1 });
      const stores: NodeStores = { project, workflow, node: nodeBucket };
      if (node.objectStore) {
        const store = names.objectStore(
          runtimeId,
          version,
          node.objectStore.name,
          node.objectStore.scope === 'workflow' ? wf.name : undefined,
        );
        await objm.create(store, { storage });
        stores.objectStore = store;
      }
      out[`${wf.name}/${node.name}`] = stores;
    }
  }
  return out;
}
