import { K8S_NAME_MAX, NATS_NAME_MAX, NATS_SUBJECT_MAX, Names } from '@libs/naming';
import type { IssueCollector } from './krt.errors.js';
import type { ResolvedKrtOptions } from './krt.limits.js';
import type { ManifestDraft } from './manifest.normalizer.js';

interface Derived {
  what: string;
  value: string;
  limit: number;
}

/**
 * Checks every name derived from the manifest (Kubernetes labels and objects, NATS subjects,
 * streams, consumers, buckets and object stores) against its limit, for the configured prefix
 * and the runtime (or the longest runtime id). Reports, per field, the first name that does not
 * fit; a field whose parent already failed is not checked again.
 */
export function checkDerivedNames(
  draft: ManifestDraft,
  options: Pick<ResolvedKrtOptions, 'prefix' | 'runtimeId' | 'runtimeIdIsExact'>,
  issues: IssueCollector,
): void {
  const names = new Names(options.prefix);
  const rt = options.runtimeId;
  const context = options.runtimeIdIsExact
    ? `prefix "${options.prefix}", runtime "${rt}"`
    : `prefix "${options.prefix}" and a runtime id of up to ${rt.length} characters`;
  const check = (path: string, fix: string, derived: Derived[]): boolean => {
    const over = derived.find((d) => d.value.length > d.limit);
    if (!over) return true;
    issues.error(
      path,
      `the ${over.what} "${over.value}" would be ${over.value.length} characters, over its limit of ${over.limit} (${context}): shorten the ${fix}`,
    );
    return false;
  };
  const ver = draft.version;
  if (!ver) return;
  const versionOk = check('version', 'version', [
    { what: 'Kubernetes label kre.io/version', value: ver, limit: K8S_NAME_MAX },
    { what: 'Kubernetes object name', value: names.k8sObject(ver), limit: K8S_NAME_MAX },
    { what: 'NATS key-value bucket', value: names.projectBucket(rt, ver), limit: NATS_NAME_MAX },
  ]);
  if (!versionOk) return;
  for (const { workflow: wf, path, nodes } of draft.workflows) {
    if (!wf.name) continue;
    const workflowOk = check(`${path}.name`, 'workflow name', [
      { what: 'Kubernetes label kre.io/workflow', value: wf.name, limit: K8S_NAME_MAX },
      { what: 'NATS stream', value: names.workflowStream(rt, ver, wf.name), limit: NATS_NAME_MAX },
      {
        what: 'NATS subject',
        value: names.entrypointSubject(rt, ver, wf.name),
        limit: NATS_SUBJECT_MAX,
      },
      {
        what: 'NATS key-value bucket',
        value: names.workflowBucket(rt, ver, wf.name),
        limit: NATS_NAME_MAX,
      },
    ]);
    if (!workflowOk) continue;
    for (const d of nodes) {
      const node = d.node.name;
      if (!node) continue;
      const nodeOk = check(d.namePath, 'node name', [
        { what: 'Kubernetes label kre.io/node', value: node, limit: K8S_NAME_MAX },
        {
          what: 'Kubernetes object name',
          value: names.k8sObject(ver, wf.name, node),
          limit: K8S_NAME_MAX,
        },
        {
          what: 'NATS subject',
          value: names.nodeSubject(rt, ver, wf.name, node),
          limit: NATS_SUBJECT_MAX,
        },
        {
          what: 'NATS key-value bucket',
          value: names.nodeBucket(rt, ver, wf.name, node),
          limit: NATS_NAME_MAX,
        },
      ]);
      if (!nodeOk) continue;
      d.node.subscriptions.forEach((sub, k) => {
        const derived: Derived[] = [
          {
            what: 'NATS durable consumer',
            value: names.consumer(node, sub.node, sub.channel),
            limit: NATS_NAME_MAX,
          },
        ];
        if (sub.channel && sub.node !== 'entrypoint') {
          derived.push({
            what: 'NATS channel subject',
            value: names.nodeSubject(rt, ver, wf.name, sub.node, sub.channel),
            limit: NATS_SUBJECT_MAX,
          });
        }
        check(d.subscriptionPaths[k], 'node or channel names', derived);
      });
      const store = d.node.objectStore;
      if (store && d.objectStorePath) {
        const scoped = store.scope === 'workflow' ? wf.name : undefined;
        check(`${d.objectStorePath}.name`, 'object store name', [
          {
            what: 'NATS object store',
            value: names.objectStore(rt, ver, store.name, scoped),
            limit: NATS_NAME_MAX,
          },
        ]);
      }
    }
  }
}
