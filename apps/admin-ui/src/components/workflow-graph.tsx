export interface GraphNode {
  name: string;
  displayName: string;
  replicas: number;
  /** What the node reads from; absent: the node before it in the list (the entrypoint for the first). */
  subscriptions?: readonly { node: string }[];
}

export interface GraphWorkflow {
  name: string;
  displayName: string;
  entrypoint: string;
  exitpoint: string;
  nodes: readonly GraphNode[];
}

export interface LiveNode {
  status: string;
  replicas: readonly {
    replica: number;
    state: string;
    restarts: number;
    message?: string | null;
  }[];
}

export const ENTRYPOINT = 'entrypoint';
const EXIT = '$exit';

interface Placed {
  id: string;
  label: string;
  column: number;
  row: number;
  kind: 'entrypoint' | 'node' | 'exit';
}

/**
 * Column layout of a workflow (a DAG): the entrypoint in column 0, each node one column right of
 * the deepest node it subscribes to, and the exitpoint after the exitpoint node. A cycle (which
 * validation refuses) cannot loop: a node on one is placed where it was first met.
 */
export function layoutWorkflow(workflow: GraphWorkflow): {
  placed: Placed[];
  edges: [string, string][];
} {
  // Without subscriptions (see GraphNode), each node reads from the one before it.
  const nodes = workflow.nodes.map((n, i) => ({
    ...n,
    subscriptions: n.subscriptions ?? [
      { node: i === 0 ? ENTRYPOINT : workflow.nodes[i - 1]!.name },
    ],
  }));
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const depth = new Map<string, number>([[ENTRYPOINT, 0]]);
  const visiting = new Set<string>();
  const depthOf = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    const node = byName.get(name);
    if (!node || visiting.has(name)) return 0;
    visiting.add(name);
    const sources = node.subscriptions.map((s) => depthOf(s.node));
    const d = 1 + Math.max(0, ...sources);
    visiting.delete(name);
    depth.set(name, d);
    return d;
  };
  nodes.forEach((n) => depthOf(n.name));
  const edges: [string, string][] = [];
  for (const node of nodes) {
    for (const s of node.subscriptions)
      edges.push([byName.has(s.node) ? s.node : ENTRYPOINT, node.name]);
    if (node.subscriptions.length === 0) edges.push([ENTRYPOINT, node.name]);
  }
  const last = Math.max(0, ...nodes.map((n) => depth.get(n.name) ?? 1));
  if (byName.has(workflow.exitpoint)) edges.push([workflow.exitpoint, EXIT]);
  const rows = new Map<number, number>();
  const place = (id: string, label: string, column: number, kind: Placed['kind']): Placed => {
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    return { id, label, column, row, kind };
  };
  const placed = [
    place(ENTRYPOINT, `Entrypoint (${workflow.entrypoint})`, 0, 'entrypoint'),
    ...[...nodes]
      .sort((a, b) => (depth.get(a.name) ?? 0) - (depth.get(b.name) ?? 0))
      .map((n) => place(n.name, n.displayName || n.name, depth.get(n.name) ?? 1, 'node')),
    place(EXIT, 'Exitpoint', last + 1, 'exit'),
  ];
  return { placed, edges };
}

const W = 170;
const H = 56;
const GAP_X = 60;
const GAP_Y = 24;

/**
 * A workflow's graph with each node's live status and replicas (from watchNodeStatus, keyed by
 * node id: `entrypoint` or `<workflow>.<node>`), drawn as SVG, and the same as a table for
 * screen readers and small screens.
 */
export function WorkflowGraph({
  workflow,
  live,
}: {
  workflow: GraphWorkflow;
  live: ReadonlyMap<string, LiveNode>;
}) {
  const { placed, edges } = layoutWorkflow(workflow);
  const at = new Map(placed.map((p) => [p.id, p]));
  const x = (p: Placed) => p.column * (W + GAP_X) + 8;
  const y = (p: Placed) => p.row * (H + GAP_Y) + 8;
  const width = Math.max(...placed.map((p) => x(p) + W)) + 8;
  const height = Math.max(...placed.map((p) => y(p) + H)) + 8;
  const liveOf = (p: Placed) =>
    p.kind === 'entrypoint'
      ? live.get(ENTRYPOINT)
      : p.kind === 'node'
        ? live.get(`${workflow.name}.${p.id}`)
        : undefined;
  const describe = (state: LiveNode | undefined) =>
    state
      ? `${state.status} · ${state.replicas.filter((r) => r.state === 'RUNNING').length}/${state.replicas.length} running`
      : 'no status';
  return (
    <figure className="graph" aria-labelledby={`wf-${workflow.name}`}>
      <figcaption id={`wf-${workflow.name}`}>
        Workflow <strong>{workflow.displayName || workflow.name}</strong> (rpc {workflow.entrypoint}
        )
      </figcaption>
      <div
        className="graph-scroll"
        tabIndex={0}
        role="group"
        aria-label={`Workflow ${workflow.name} (scrolls sideways)`}
      >
        <svg
          width={width}
          height={height}
          viewBox={`0 0 ${width} ${height}`}
          role="img"
          aria-label={`Graph of workflow ${workflow.name}: ${edges.length} links`}
        >
          {edges.map(([from, to]) => {
            const a = at.get(from);
            const b = at.get(to);
            if (!a || !b) return null;
            return (
              <line
                key={`${from}->${to}`}
                data-edge={`${from}->${to}`}
                x1={x(a) + W}
                y1={y(a) + H / 2}
                x2={x(b)}
                y2={y(b) + H / 2}
                className="edge"
              />
            );
          })}
          {placed.map((p) => {
            const state = liveOf(p);
            return (
              <g
                key={p.id}
                data-node={p.id}
                className={`gnode ${p.kind} status-${(state?.status ?? 'none').toLowerCase()}`}
              >
                <rect x={x(p)} y={y(p)} width={W} height={H} rx={6} />
                <text x={x(p) + 10} y={y(p) + 22}>
                  {p.label.length > 22 ? `${p.label.slice(0, 21)}…` : p.label}
                </text>
                {p.kind !== 'exit' && (
                  <text x={x(p) + 10} y={y(p) + 42} className="sub">
                    {describe(state)}
                  </text>
                )}
              </g>
            );
          })}
        </svg>
      </div>
      <table className="compact">
        <caption className="sr-only">Nodes of workflow {workflow.name}</caption>
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">Reads from</th>
            <th scope="col">Status</th>
            <th scope="col">Replicas</th>
          </tr>
        </thead>
        <tbody>
          {placed
            .filter((p) => p.kind !== 'exit')
            .map((p) => {
              const state = liveOf(p);
              const node = workflow.nodes.find((n) => n.name === p.id);
              return (
                <tr key={p.id} data-testid={`node-${p.id}`}>
                  <th scope="row">
                    {p.label}
                    {p.id === workflow.exitpoint && ' (exitpoint)'}
                  </th>
                  <td data-label="Reads from">
                    {edges
                      .filter(([, to]) => to === p.id)
                      .map(([from]) => from)
                      .join(', ') || '—'}
                  </td>
                  <td data-label="Status">{state?.status ?? 'no status'}</td>
                  <td data-label="Replicas">
                    {state && state.replicas.length > 0
                      ? state.replicas
                          .map(
                            (r) =>
                              `#${r.replica} ${r.state}${r.restarts ? ` (${r.restarts} restarts)` : ''}`,
                          )
                          .join(', ')
                      : node
                        ? `${node.replicas} wanted`
                        : '—'}
                  </td>
                </tr>
              );
            })}
        </tbody>
      </table>
    </figure>
  );
}
