import { cleanup, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import {
  WorkflowGraph,
  layoutWorkflow,
  type GraphWorkflow,
  type LiveNode,
} from '../src/components/workflow-graph.tsx';

const node = (name: string, subscribesTo: string[], replicas = 1) => ({
  name,
  displayName: name,
  replicas,
  subscriptions: subscribesTo.map((n) => ({ node: n })),
});

// entrypoint → parse → (enrich, classify) → merge (exitpoint)
const WORKFLOW: GraphWorkflow = {
  name: 'greet',
  displayName: 'Greeting',
  entrypoint: 'Greet',
  exitpoint: 'merge',
  nodes: [
    node('merge', ['enrich', 'classify']),
    node('classify', ['parse'], 2),
    node('parse', ['entrypoint']),
    node('enrich', ['parse']),
  ],
};

describe(WorkflowGraph.name, () => {
  afterEach(cleanup);

  it('lays a workflow out in columns: entrypoint, each node after what it subscribes to, exitpoint last', () => {
    const { placed, edges } = layoutWorkflow(WORKFLOW);
    const column = Object.fromEntries(placed.map((p) => [p.id, p.column]));
    expect(column).toEqual({ entrypoint: 0, parse: 1, classify: 2, enrich: 2, merge: 3, $exit: 4 });
    expect(new Set(edges.map(([a, b]) => `${a}->${b}`))).toEqual(
      new Set([
        'entrypoint->parse',
        'parse->classify',
        'parse->enrich',
        'enrich->merge',
        'classify->merge',
        'merge->$exit',
      ]),
    );
    // Two nodes in one column get two rows.
    const rows = placed.filter((p) => p.column === 2).map((p) => p.row);
    expect(rows.sort()).toEqual([0, 1]);
  });

  it('a cycle (refused by validation) still lays out without looping', () => {
    const cyclic: GraphWorkflow = {
      ...WORKFLOW,
      nodes: [node('a', ['b']), node('b', ['a'])],
      exitpoint: 'b',
    };
    expect(layoutWorkflow(cyclic).placed).toHaveLength(4);
  });

  it('draws every node and link, and shows each node’s live status and replicas', () => {
    const live = new Map<string, LiveNode>([
      [
        'entrypoint',
        { status: 'STARTED', replicas: [{ replica: 0, state: 'RUNNING', restarts: 0 }] },
      ],
      [
        'greet.classify',
        {
          status: 'STARTING',
          replicas: [
            { replica: 0, state: 'RUNNING', restarts: 0 },
            { replica: 1, state: 'RESTARTING', restarts: 3 },
          ],
        },
      ],
    ]);
    const { container } = render(<WorkflowGraph workflow={WORKFLOW} live={live} />);
    expect(container.querySelectorAll('[data-node]')).toHaveLength(6);
    expect(container.querySelectorAll('[data-edge]')).toHaveLength(6);
    expect(container.querySelector('[data-node="classify"]')!.getAttribute('class')).toContain(
      'status-starting',
    );
    const classify = screen.getByTestId('node-classify');
    expect(within(classify).getByText('STARTING')).toBeTruthy();
    expect(within(classify).getByText('#0 RUNNING, #1 RESTARTING (3 restarts)')).toBeTruthy();
    expect(within(screen.getByTestId('node-merge')).getByText(/exitpoint/)).toBeTruthy();
    // A node without news yet says so, and how many replicas it wants.
    expect(within(screen.getByTestId('node-parse')).getByText('no status')).toBeTruthy();
    expect(within(screen.getByTestId('node-parse')).getByText('1 wanted')).toBeTruthy();
    expect(screen.getByRole('img', { name: /Graph of workflow greet/ })).toBeTruthy();
  });
});

describe(layoutWorkflow.name, () => {
  it('without subscriptions, chains the nodes in their declared order (KRT v1 sequential)', () => {
    const sequential: GraphWorkflow = {
      name: 'greet',
      displayName: 'Greet',
      entrypoint: 'Greet',
      exitpoint: 'format-reply',
      nodes: ['clean-name', 'make-greeting', 'format-reply'].map((name) => ({
        name,
        displayName: name,
        replicas: 1,
      })),
    };
    const { placed, edges } = layoutWorkflow(sequential);
    expect(edges.map(([a, b]) => `${a}->${b}`)).toEqual([
      'entrypoint->clean-name',
      'clean-name->make-greeting',
      'make-greeting->format-reply',
      'format-reply->$exit',
    ]);
    expect(placed.map((p) => p.column)).toEqual([0, 1, 2, 3, 4]);
  });
});
