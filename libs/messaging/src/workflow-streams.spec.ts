import { Names } from '@libs/naming';
import { describe, expect, it } from 'vitest';
import { WorkflowWiringError, planWorkflowStreams } from './workflow-streams.js';

const names = new Names('kre');

describe(planWorkflowStreams.name, () => {
  it('plans one stream and one durable consumer per (node, input)', () => {
    const plan = planWorkflowStreams(
      names,
      'demo',
      'v1',
      {
        name: 'wf',
        nodes: [
          { name: 'etl', subscriptions: [{ node: 'entrypoint' }] },
          { name: 'model', subscriptions: [{ node: 'etl' }] },
          { name: 'repairs', subscriptions: [{ node: 'model', channel: 'repairs' }] },
          { name: 'exit', subscriptions: [{ node: 'etl' }, { node: 'model' }] },
        ],
      },
      { ackWaitMs: 1_000, maxDeliver: 2 },
    );
    expect(plan.stream).toBe('KRE_demo_v1_wf');
    expect(plan.entrySubject).toBe('kre.demo.wf.v1.wf.entrypoint');
    expect(plan.streamConfig).toMatchObject({
      subjects: ['kre.demo.wf.v1.wf.>'],
      retention: 'interest',
    });
    expect(plan.consumers.map((c) => [c.durable_name, c.filter_subject])).toEqual([
      ['etl_entrypoint', 'kre.demo.wf.v1.wf.entrypoint'],
      ['model_etl', 'kre.demo.wf.v1.wf.etl'],
      ['repairs_model_repairs', 'kre.demo.wf.v1.wf.model.repairs'],
      ['exit_etl', 'kre.demo.wf.v1.wf.etl'],
      ['exit_model', 'kre.demo.wf.v1.wf.model'],
    ]);
    expect(plan.consumers[0]).toMatchObject({
      ack_policy: 'explicit',
      ack_wait: 1_000_000_000,
      max_deliver: 2,
    });
    expect(plan.nodes.exit).toEqual({
      node: 'exit',
      output: 'kre.demo.wf.v1.wf.exit',
      inputs: [
        { subject: 'kre.demo.wf.v1.wf.etl', consumer: 'exit_etl', fromNode: 'etl' },
        { subject: 'kre.demo.wf.v1.wf.model', consumer: 'exit_model', fromNode: 'model' },
      ],
      natsInputs: 'kre.demo.wf.v1.wf.etl=exit_etl,kre.demo.wf.v1.wf.model=exit_model',
    });
  });

  it.each([
    [[{ name: 'a', subscriptions: [{ node: 'ghost' }] }], 'subscribes to unknown node "ghost"'],
    [[{ name: 'entrypoint', subscriptions: [] }], 'reserved'],
    [
      [
        { name: 'a', subscriptions: [{ node: 'entrypoint' }] },
        { name: 'b', subscriptions: [{ node: 'a', channel: 'x.y' }] },
      ],
      'channel "x.y"',
    ],
  ])('refuses a bad wiring (%#)', (nodes, message) => {
    expect(() => planWorkflowStreams(names, 'demo', 'v1', { name: 'wf', nodes })).toThrow(
      WorkflowWiringError,
    );
    expect(() => planWorkflowStreams(names, 'demo', 'v1', { name: 'wf', nodes })).toThrow(message);
  });
});
