import { cleanup, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  MeasurementForm,
  ReplicaResourcesTable,
  parseTags,
  type ReplicaResource,
} from '../src/components/metrics-view.tsx';

const SAMPLE: ReplicaResource[] = [
  {
    workload: 'greet.clean-name',
    replica: 0,
    state: 'RUNNING',
    cpuCores: 0.0125,
    memoryBytes: 73_400_320,
    restarts: 2,
    sampledAt: '2026-01-01T12:00:00.000Z',
    source: 'cgroup',
  },
  {
    workload: 'entrypoint',
    replica: 0,
    state: 'STARTING',
    cpuCores: null,
    memoryBytes: null,
    restarts: 0,
    sampledAt: '2026-01-01T12:00:00.000Z',
    source: 'proc',
  },
];

describe(ReplicaResourcesTable.name, () => {
  afterEach(cleanup);

  it('shows each replica’s latest CPU, memory and restarts, a dash where unknown', () => {
    render(<ReplicaResourcesTable replicas={SAMPLE} />);
    const node = screen.getByTestId('replica-greet.clean-name-0');
    const cells = [...node.querySelectorAll('td')].map((td) => td.textContent);
    expect(cells.slice(0, 6)).toEqual([
      'greet.clean-name',
      '0',
      'RUNNING',
      '0.013 CPU',
      '70 MiB',
      '2',
    ]);
    const entry = screen.getByTestId('replica-entrypoint-0');
    expect([...entry.querySelectorAll('td')].map((td) => td.textContent).slice(3, 5)).toEqual([
      '—',
      '—',
    ]);
    // Each cell keeps its column's name for a phone's width.
    expect(node.querySelector('td')?.getAttribute('data-label')).toBe('Workload');
  });

  it('says when no replica was sampled', () => {
    render(<ReplicaResourcesTable replicas={[]} />);
    expect(screen.getByText(/No replica sampled in the last two minutes/)).toBeTruthy();
  });
});

describe(MeasurementForm.name, () => {
  afterEach(cleanup);

  it('parses tags as key=value pairs and names a wrong one', () => {
    expect(parseTags(' workload = greet.clean-name , replica=0 ')).toEqual({
      tags: [
        { key: 'workload', value: 'greet.clean-name' },
        { key: 'replica', value: '0' },
      ],
    });
    expect(parseTags('')).toEqual({ tags: [] });
    expect(parseTags('workload')).toEqual({ error: '“workload” is not key=value' });
    expect(parseTags('=x')).toEqual({ error: '“=x” is not key=value' });
  });

  it('refuses a missing name and a malformed tag, by field; then shows the measurement', async () => {
    const onShow = vi.fn();
    render(<MeasurementForm onShow={onShow} />);
    await userEvent.type(screen.getByLabelText('Tags'), 'model');
    await userEvent.click(screen.getByRole('button', { name: 'Show' }));
    const alerts = screen.getAllByRole('alert').map((a) => a.textContent);
    expect(alerts).toEqual([
      'Measurement: the measurement’s name is required',
      'Tags: “model” is not key=value',
    ]);
    expect(screen.getByLabelText('Measurement').getAttribute('aria-invalid')).toBe('true');
    expect(onShow).not.toHaveBeenCalled();

    await userEvent.type(screen.getByLabelText('Measurement'), 'scores');
    await userEvent.type(screen.getByLabelText('Tags'), '=v2');
    await userEvent.click(screen.getByRole('button', { name: 'Show' }));
    expect(onShow).toHaveBeenCalledWith({ name: 'scores', tags: [{ key: 'model', value: 'v2' }] });
    expect(screen.queryByRole('alert')).toBeNull();
  });
});
