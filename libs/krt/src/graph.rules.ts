import { quoteList, type IssueCollector } from './krt.errors.js';
import type { WorkflowDraft } from './manifest.normalizer.js';

const ENTRYPOINT = 'entrypoint';

/**
 * Checks each workflow as a graph: subscriptions name nodes of the same workflow, the exitpoint
 * exists, there are no cycles, and every node is reached from the entrypoint. A node that does
 * not lead to the exitpoint is only a warning: KRE's own examples have such side-effect nodes
 * (e.g. a handler subscribed to a channel that stores something), and they must keep working.
 */
export function checkWorkflowGraphs(
  drafts: readonly WorkflowDraft[],
  issues: IssueCollector,
): void {
  for (const draft of drafts) checkGraph(draft, issues);
}

function checkGraph(draft: WorkflowDraft, issues: IssueCollector): void {
  const { workflow, path } = draft;
  const nodes = draft.nodes.filter((d) => d.node.name);
  const names = new Set(nodes.map((d) => d.node.name));
  const known = quoteList([...names, ENTRYPOINT]);
  /** node → the nodes it listens to (valid edges only). */
  const inputs = new Map<string, string[]>();
  for (const draft of nodes) {
    const { node } = draft;
    const valid: string[] = [];
    node.subscriptions.forEach((sub, k) => {
      const at = draft.subscriptionPaths[k];
      if (sub.node === ENTRYPOINT) {
        valid.push(ENTRYPOINT);
      } else if (sub.node === node.name) {
        issues.error(
          at,
          `the node "${node.name}" subscribes to itself: subscribe it to another node or to entrypoint`,
        );
      } else if (!names.has(sub.node)) {
        issues.error(at, `no node "${sub.node}" in this workflow: subscribe to one of ${known}`);
      } else {
        valid.push(sub.node);
      }
    });
    inputs.set(node.name, valid);
  }
  if (workflow.exitpoint && !names.has(workflow.exitpoint) && draft.nodes.length) {
    issues.error(
      `${path}.exitpoint`,
      `the exitpoint "${workflow.exitpoint}" is not a node of this workflow: name one of ${quoteList(names)}`,
    );
  }
  const order = nodes.map((d) => d.node.name);
  for (const found of findCycles(order, inputs)) {
    // Start the cycle at the node declared first, so the message reads like the manifest.
    const first = found.reduce((a, b) => (order.indexOf(a) <= order.indexOf(b) ? a : b));
    const at = found.indexOf(first);
    const cycle = [...found.slice(at), ...found.slice(0, at)];
    issues.error(
      nodes.find((d) => d.node.name === first)?.namePath ?? path,
      `the nodes ${[...cycle, cycle[0]].map((n) => `"${n}"`).join(' → ')} form a cycle: messages must flow from the entrypoint to the exitpoint without looping`,
    );
  }
  const reached = reach(ENTRYPOINT, outputsOf(inputs));
  for (const d of nodes) {
    if (reached.has(d.node.name)) continue;
    issues.error(
      d.namePath,
      `the node "${d.node.name}" is never reached from the entrypoint: subscribe it to entrypoint or to a node that is reached`,
    );
  }
  if (!names.has(workflow.exitpoint)) return;
  const leadsToExit = reach(workflow.exitpoint, inputs);
  for (const d of nodes) {
    if (leadsToExit.has(d.node.name) || !reached.has(d.node.name)) continue;
    issues.warning(
      d.namePath,
      `the node "${d.node.name}" does not lead to the exitpoint "${workflow.exitpoint}": its outputs never reach the caller (fine for a node that only stores or notifies)`,
    );
  }
}

function outputsOf(inputs: Map<string, string[]>): Map<string, string[]> {
  const outputs = new Map<string, string[]>();
  for (const [node, from] of inputs) {
    for (const source of from) outputs.set(source, [...(outputs.get(source) ?? []), node]);
  }
  return outputs;
}

/** Every node reachable from `start` along `edges` (start included). */
function reach(start: string, edges: Map<string, string[]>): Set<string> {
  const seen = new Set([start]);
  const queue = [start];
  while (queue.length) {
    const next = queue.pop() as string;
    for (const to of edges.get(next) ?? []) {
      if (seen.has(to)) continue;
      seen.add(to);
      queue.push(to);
    }
  }
  return seen;
}

/** Elementary cycles found by an iterative DFS, each reported once (by its node set). */
function findCycles(nodes: readonly string[], inputs: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[][] = [];
  const reported = new Set<string>();
  for (const root of nodes) {
    if (state.has(root)) continue;
    const stack: { node: string; next: number }[] = [{ node: root, next: 0 }];
    const onPath: string[] = [root];
    state.set(root, 'open');
    while (stack.length) {
      const top = stack[stack.length - 1];
      const edges = inputs.get(top.node) ?? [];
      if (top.next >= edges.length) {
        state.set(top.node, 'done');
        stack.pop();
        onPath.pop();
        continue;
      }
      const to = edges[top.next++];
      if (to === ENTRYPOINT) continue;
      const seen = state.get(to);
      if (seen === 'open') {
        // Follow inputs backwards: the cycle, in message-flow order, is the reversed path.
        const cycle = onPath.slice(onPath.indexOf(to)).reverse();
        const key = [...cycle].sort().join('\u0000');
        if (!reported.has(key)) {
          reported.add(key);
          cycles.push(cycle);
        }
      } else if (!seen) {
        state.set(to, 'open');
        stack.push({ node: to, next: 0 });
        onPath.push(to);
      }
    }
  }
  return cycles;
}
