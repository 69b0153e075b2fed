import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { cleanup, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AutoscaleTable,
  IdleTimeForm,
  ScaleStatus,
  validateBounds,
  type BoundsChange,
  type ScaledNode,
} from '../src/components/version-scale.tsx';

const NODES: ScaledNode[] = [
  { workflow: 'greet', name: 'clean-name', replicas: 1, autoscale: null },
  { workflow: 'greet', name: 'say-hello', replicas: 2, autoscale: { min: 1, max: 4 } },
];

describe(ScaleStatus.name, () => {
  afterEach(cleanup);

  it('says whether the version is awake or asleep and how many replicas run', () => {
    const { rerender } = render(<ScaleStatus scale={{ state: 'AWAKE', replicas: 4 }} />);
    expect(screen.getByTestId('scale-state').textContent).toBe('Awake · 4 replicas running');
    rerender(<ScaleStatus scale={{ state: 'SLEEPING', replicas: 0 }} />);
    expect(screen.getByTestId('scale-state').textContent).toBe(
      'Asleep: the next call wakes it · 0 replicas running',
    );
    rerender(<ScaleStatus scale={{ state: null, replicas: 0 }} />);
    expect(screen.getByTestId('scale-state').textContent).toBe('Not running · 0 replicas running');
  });
});

describe(IdleTimeForm.name, () => {
  afterEach(cleanup);

  it('a VIEWER sees the idle time and no field or button', () => {
    render(<IdleTimeForm idleSeconds={null} canEdit={false} onSave={vi.fn()} />);
    expect(screen.getByTestId('idle-time').textContent).toBe(
      'This version sleeps after the installation’s default idle time without a call.',
    );
    expect(screen.queryByRole('textbox')).toBeNull();
    expect(screen.queryByRole('button')).toBeNull();
  });

  it('a MANAGER sets seconds, 0 (never) or empty (the default), with a comment', async () => {
    const onSave = vi.fn(() => Promise.resolve());
    render(<IdleTimeForm idleSeconds={300} canEdit onSave={onSave} />);
    expect(screen.getByTestId('idle-time').textContent).toBe(
      'This version sleeps after 300 s without a call.',
    );
    const field = screen.getByLabelText('Idle seconds before it sleeps');
    await userEvent.clear(field);
    await userEvent.type(field, 'soon');
    await userEvent.click(screen.getByRole('button', { name: 'Save idle time' }));
    expect(screen.getByRole('alert').textContent).toBe(
      'Idle seconds must be a whole number of seconds (0: never sleeps), or empty',
    );
    expect(onSave).not.toHaveBeenCalled();
    await userEvent.clear(field);
    await userEvent.type(field, '0');
    await userEvent.type(screen.getByLabelText(/^Comment/), 'always on');
    await userEvent.click(screen.getByRole('button', { name: 'Save idle time' }));
    expect(onSave).toHaveBeenLastCalledWith(0, 'always on');
    await userEvent.clear(field);
    await userEvent.click(screen.getByRole('button', { name: 'Save idle time' }));
    expect(onSave).toHaveBeenLastCalledWith(null, '');
  });
});

describe(AutoscaleTable.name, () => {
  afterEach(cleanup);

  it('lists the entrypoint’s and each node’s replicas and bounds; a VIEWER gets no button', () => {
    render(
      <AutoscaleTable
        entrypointAutoscale={null}
        nodes={NODES}
        canEdit={false}
        onSave={vi.fn()}
        onSaveEntrypoint={vi.fn()}
      />,
    );
    const rows = screen.getAllByRole('row').slice(1);
    expect(rows.map((r) => r.getAttribute('data-testid'))).toEqual([
      'autoscale-entrypoint',
      'autoscale-greet.clean-name',
      'autoscale-greet.say-hello',
    ]);
    expect(screen.getByTestId('autoscale-entrypoint').textContent).toBe(
      'entrypoint (scaled on calls in flight)1off (one replica)',
    );
    expect(screen.getByTestId('autoscale-greet.clean-name').textContent).toContain(
      'off (the KRT’s replicas)',
    );
    expect(screen.getByTestId('autoscale-greet.say-hello').textContent).toContain('1 to 4');
    expect(screen.queryByRole('button')).toBeNull();
  });

  it('checks the bounds by field, then sends them for the node', async () => {
    const onSave = vi.fn(() => Promise.resolve());
    const onSaveEntrypoint = vi.fn();
    render(
      <AutoscaleTable
        entrypointAutoscale={null}
        nodes={NODES}
        canEdit
        onSave={onSave}
        onSaveEntrypoint={onSaveEntrypoint}
      />,
    );
    await userEvent.click(screen.getByRole('button', { name: 'Set bounds of greet.clean-name' }));
    await userEvent.type(screen.getByLabelText(/^Fewest/), '3');
    await userEvent.type(screen.getByLabelText(/^Most/), '2');
    await userEvent.click(screen.getByRole('button', { name: 'Save bounds' }));
    expect(screen.getByText('Most must be at least the fewest')).toBeTruthy();
    expect(onSave).not.toHaveBeenCalled();
    await userEvent.clear(screen.getByLabelText(/^Most/));
    await userEvent.type(screen.getByLabelText(/^Most/), '5');
    await userEvent.type(screen.getByLabelText(/^Comment/), 'backlog');
    await userEvent.click(screen.getByRole('button', { name: 'Save bounds' }));
    expect(onSave).toHaveBeenCalledWith({
      workflowName: 'greet',
      nodeName: 'clean-name',
      min: 3,
      max: 5,
      comment: 'backlog',
    });
    expect(onSaveEntrypoint).not.toHaveBeenCalled();
  });

  it('sets the entrypoint’s bounds, shows a refusal by field, and clears them with empty fields', async () => {
    const refusal = new CombinedGraphQLErrors({
      data: null,
      errors: [
        {
          message: 'invalid input: input.max: must be at most 100',
          extensions: {
            code: 'BAD_USER_INPUT',
            errors: [{ field: 'input.max', message: 'must be at most 100' }],
          },
        },
      ],
    });
    const onSave = vi.fn();
    const onSaveEntrypoint = vi
      .fn<(change: BoundsChange) => Promise<unknown>>()
      .mockRejectedValueOnce(refusal)
      .mockResolvedValue({});
    render(
      <AutoscaleTable
        entrypointAutoscale={{ min: 2, max: 2 }}
        nodes={NODES}
        canEdit
        onSave={onSave}
        onSaveEntrypoint={onSaveEntrypoint}
      />,
    );
    expect(screen.getByTestId('autoscale-entrypoint').textContent).toContain('fixed at 2');
    await userEvent.click(screen.getByRole('button', { name: 'Set bounds of entrypoint' }));
    expect(
      screen.getByRole('form', { name: 'Autoscale bounds of entrypoint' }).textContent,
    ).toContain('Empty both: back to one replica.');
    expect(screen.getByLabelText<HTMLInputElement>(/^Fewest/).value).toBe('2');
    await userEvent.clear(screen.getByLabelText(/^Most/));
    await userEvent.type(screen.getByLabelText(/^Most/), '500');
    await userEvent.type(screen.getByLabelText(/^Comment/), 'launch');
    await userEvent.click(screen.getByRole('button', { name: 'Save bounds' }));
    expect(onSaveEntrypoint).toHaveBeenLastCalledWith({ min: 2, max: 500, comment: 'launch' });
    await screen.findByText('Most must be at most 100');
    await userEvent.clear(screen.getByLabelText(/^Fewest/));
    await userEvent.clear(screen.getByLabelText(/^Most/));
    await userEvent.click(screen.getByRole('button', { name: 'Save bounds' }));
    expect(onSaveEntrypoint).toHaveBeenLastCalledWith({ min: null, max: null, comment: 'launch' });
    expect(onSave).not.toHaveBeenCalled();
  });

  it('empty bounds go back to the KRT’s replicas', () => {
    expect(validateBounds('', ' ')).toEqual({ min: null, max: null });
    expect(validateBounds('0', '')).toEqual({
      errors: {
        min: 'must be a whole number, 1 or more',
        max: 'must be a whole number, 1 or more',
      },
    });
  });
});
