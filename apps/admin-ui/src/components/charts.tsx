/**
 * Line charts drawn as SVG by hand: a few polylines and axes are all the metrics page needs, and
 * chart libraries either cost more than the page's whole budget (recharts + d3 ≈ 100 KB gzipped)
 * or set `style` attributes that the portal's CSP (`style-src 'self'`) refuses. Colours come
 * from classes (`series-<i>` in styles.css), never from inline styles.
 */

export interface ChartPoint {
  /** Milliseconds since the epoch. */
  t: number;
  v: number | null | undefined;
}

export interface ChartSeries {
  name: string;
  points: readonly ChartPoint[];
}

export const CHART = { width: 640, height: 220, left: 76, right: 12, top: 12, bottom: 28 };

/** Numbers as a person reads them on an axis: 0.5, 12, 1.2K, 52M. */
export const formatNumber = (v: number) =>
  new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 2 }).format(v);

/** A "nice" upper bound for the y axis: 1, 2 or 5 × a power of ten, at least the maximum. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((m) => m * power).find((m) => m >= max) ?? 10 * power;
}

/** Each series as SVG polyline points inside the plot area; null values are left out. */
export function chartGeometry(series: readonly ChartSeries[]) {
  const values = series.flatMap((s) => s.points.map((p) => p.v).filter(isNumber));
  const times = series.flatMap((s) => s.points.map((p) => p.t));
  const t0 = times.length ? Math.min(...times) : 0;
  const t1 = times.length ? Math.max(...times) : 1;
  const yMax = niceMax(values.length ? Math.max(...values) : 0);
  const plotW = CHART.width - CHART.left - CHART.right;
  const plotH = CHART.height - CHART.top - CHART.bottom;
  const x = (t: number) => CHART.left + (t1 === t0 ? plotW / 2 : ((t - t0) / (t1 - t0)) * plotW);
  const y = (v: number) => CHART.top + plotH - (v / yMax) * plotH;
  const lines = series.map((s) =>
    s.points
      .filter((p): p is { t: number; v: number } => isNumber(p.v))
      .map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`)
      .join(' '),
  );
  return { t0, t1, yMax, lines, y, plotW, plotH };
}

const isNumber = (v: number | null | undefined): v is number =>
  typeof v === 'number' && Number.isFinite(v);

const clock = (t: number, long: boolean) =>
  new Date(t).toLocaleString(
    undefined,
    long ? { dateStyle: 'short', timeStyle: 'short' } : { timeStyle: 'short' },
  );

/** The last value of a series (what the legend shows), or null. */
const latest = (s: ChartSeries): number | null =>
  s.points.map((p) => p.v).findLast(isNumber) ?? null;

/**
 * One chart: its title, the series as lines over time, a legend with each series' latest and
 * highest value (what a screen reader reads: the SVG itself is one labelled image).
 */
export function LineChart({
  title,
  series,
  format = formatNumber,
}: {
  title: string;
  series: readonly ChartSeries[];
  format?: (value: number) => string;
}) {
  const points = series.reduce((n, s) => n + s.points.filter((p) => isNumber(p.v)).length, 0);
  const g = chartGeometry(series);
  const long = g.t1 - g.t0 > 86_400_000;
  return (
    <figure className="chart" data-chart={title}>
      <figcaption>{title}</figcaption>
      {points === 0 ? (
        <p className="muted">No data in this range.</p>
      ) : (
        <svg
          viewBox={`0 0 ${CHART.width} ${CHART.height}`}
          role="img"
          aria-label={`${title}: ${series.map((s) => s.name).join(', ')} from ${clock(g.t0, true)} to ${clock(g.t1, true)}`}
        >
          {[0, 0.5, 1].map((f) => (
            <g key={f} className="tick">
              <line
                x1={CHART.left}
                x2={CHART.width - CHART.right}
                y1={g.y(g.yMax * f)}
                y2={g.y(g.yMax * f)}
              />
              <text x={CHART.left - 6} y={g.y(g.yMax * f) + 4} textAnchor="end">
                {format(g.yMax * f)}
              </text>
            </g>
          ))}
          <text className="axis" x={CHART.left} y={CHART.height - 8}>
            {clock(g.t0, long)}
          </text>
          <text
            className="axis"
            x={CHART.width - CHART.right}
            y={CHART.height - 8}
            textAnchor="end"
          >
            {clock(g.t1, long)}
          </text>
          {g.lines.map((line, i) => {
            const key = series[i]?.name ?? i;
            if (line.includes(' '))
              return <polyline key={key} className={`series series-${i % 6}`} points={line} />;
            // A single point: a dot, as a line needs two.
            const [cx, cy] = line.split(',');
            return (
              line && (
                <circle key={key} className={`series dot series-${i % 6}`} cx={cx} cy={cy} r={3} />
              )
            );
          })}
        </svg>
      )}
      <ul className="legend">
        {series.map((s, i) => {
          const last = latest(s);
          const values = s.points.map((p) => p.v).filter(isNumber);
          return (
            <li key={s.name}>
              <span className={`swatch series-${i % 6}`} aria-hidden="true" /> {s.name}
              {last !== null && (
                <span className="muted">
                  {' '}
                  latest {format(last)}, highest {format(Math.max(...values))}
                </span>
              )}
            </li>
          );
        })}
      </ul>
    </figure>
  );
}

export const formatMs = (v: number) => `${v >= 100 ? Math.round(v) : Math.round(v * 10) / 10} ms`;
export const formatCores = (v: number) => `${Math.round(v * 1000) / 1000} CPU`;
export function formatBytes(v: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = v;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : Math.round(value * 10) / 10} ${units[unit]}`;
}
