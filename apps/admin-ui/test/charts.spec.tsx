import { cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import {
  LineChart,
  chartGeometry,
  formatBytes,
  niceMax,
  type ChartSeries,
} from '../src/components/charts.tsx';

const t = (minute: number) => Date.UTC(2026, 0, 1, 12, minute);
const LATENCY: ChartSeries[] = [
  { name: 'p50', points: [0, 1, 2].map((m) => ({ t: t(m), v: 10 + m })) },
  { name: 'p95', points: [0, 1, 2].map((m) => ({ t: t(m), v: 40 + m })) },
  { name: 'p99', points: [{ t: t(1), v: 90 }] },
];

describe(LineChart.name, () => {
  afterEach(cleanup);

  it('draws a line per series (a dot for a single point), with no style attribute', () => {
    const { container } = render(
      <LineChart title="Latency of greet.clean-name" series={LATENCY} />,
    );
    expect(container.querySelectorAll('polyline.series')).toHaveLength(2);
    expect(container.querySelectorAll('circle.series')).toHaveLength(1);
    // The CSP refuses style attributes: colours are classes.
    expect(container.querySelectorAll('[style]')).toHaveLength(0);
    expect(screen.getByRole('img').getAttribute('aria-label')).toMatch(
      /^Latency of greet.clean-name: p50, p95, p99 from /,
    );
  });

  it('the legend gives each series’ latest and highest value', () => {
    render(<LineChart title="Latency" series={LATENCY} format={(v) => `${v} ms`} />);
    const items = screen.getAllByRole('listitem').map((li) => li.textContent);
    expect(items).toEqual([
      ' p50 latest 12 ms, highest 12 ms',
      ' p95 latest 42 ms, highest 42 ms',
      ' p99 latest 90 ms, highest 90 ms',
    ]);
  });

  it('says when the range has no data instead of drawing empty axes', () => {
    const { container } = render(
      <LineChart title="Requests" series={[{ name: 'requests', points: [] }]} />,
    );
    expect(screen.getByText('No data in this range.')).toBeTruthy();
    expect(container.querySelector('svg')).toBeNull();
  });

  it('scales the y axis to a round maximum and spans the time range', () => {
    expect([niceMax(0), niceMax(0.7), niceMax(42), niceMax(90), niceMax(101)]).toEqual([
      1, 1, 50, 100, 200,
    ]);
    const g = chartGeometry(LATENCY);
    expect(g.yMax).toBe(100);
    expect([g.t0, g.t1]).toEqual([t(0), t(2)]);
    // The first point of p50 sits on the left edge, the last on the right.
    expect(g.lines[0]?.split(' ')[0]?.startsWith('76.0,')).toBe(true);
    expect(g.lines[0]?.split(' ')[2]?.startsWith('628.0,')).toBe(true);
  });

  it('formats bytes in binary units', () => {
    expect([formatBytes(512), formatBytes(1536), formatBytes(52_428_800)]).toEqual([
      '512 B',
      '1.5 KiB',
      '50 MiB',
    ]);
  });
});
