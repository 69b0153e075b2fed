import type { Metrics, MetricChartData } from './metrics.model.js';

/** A saved prediction as the computation needs it, in the order it was saved. */
export interface PredictionRow {
  time: Date;
  predictedValue?: string;
  trueValue?: string;
  /** `MISSING_VALUES` or `NEW_LABELS`; absent for a classified prediction. */
  error?: string;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Go's sort.Strings order (bytes), which KRE used: not the locale's. */
const byBytes = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
/** KRE's integer percentages: truncated, not rounded. */
const percent = (part: number, whole: number) => (whole > 0 ? Math.trunc((part / whole) * 100) : 0);

/** `2 Jan 2006 15:04 UTC` (hourly buckets) or `2 Jan 2006` (daily), as KRE labelled them. */
function label(start: number, hourly: boolean): string {
  const d = new Date(start);
  const day = `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
  if (!hourly) return day;
  const hh = String(d.getUTCHours()).padStart(2, '0');
  const mm = String(d.getUTCMinutes()).padStart(2, '0');
  return `${day} ${hh}:${mm} UTC`;
}

/**
 * KRE's classification metrics (its `metrics` query, spec §2.8) from a version's predictions in
 * a range: the same numbers for the same input. `span` is the range asked for: up to 7 days the
 * success series has hourly buckets, beyond that daily, starting at the first prediction's hour.
 * Null when there is no prediction or none was classified.
 */
export function classificationMetrics(
  rows: readonly PredictionRow[],
  span: number,
): Metrics | null {
  const total = rows.length;
  let missing = 0;
  let newLabels = 0;
  const classified: { time: Date; predicted: string; truth: string }[] = [];
  for (const row of rows) {
    if (row.error === 'MISSING_VALUES') missing += 1;
    else if (row.error === 'NEW_LABELS') newLabels += 1;
    else
      classified.push({
        time: row.time,
        predicted: row.predictedValue ?? '',
        truth: row.trueValue ?? '',
      });
  }
  if (total === 0 || classified.length === 0) return null;

  const hits = classified.filter((c) => c.predicted === c.truth).length;
  const support = new Map<string, number>();
  const hitsOf = new Map<string, number>();
  const cells = new Map<string, number>();
  const seen = new Set<string>();
  for (const c of classified) {
    support.set(c.truth, (support.get(c.truth) ?? 0) + 1);
    if (c.predicted === c.truth) hitsOf.set(c.truth, (hitsOf.get(c.truth) ?? 0) + 1);
    const cell = `${c.truth}\u0000${c.predicted}`;
    cells.set(cell, (cells.get(cell) ?? 0) + 1);
    seen.add(c.truth).add(c.predicted);
  }
  const trueClasses = [...support.keys()].sort(byBytes);
  const classAccuracy = new Map(
    trueClasses.map((c) => [c, ((hitsOf.get(c) ?? 0) / (support.get(c) ?? 1)) * 100]),
  );
  const accuracies = [...classAccuracy.values()];
  const macro = Math.trunc(accuracies.reduce((a, b) => a + b, 0) / accuracies.length);
  const weighted = Math.trunc(
    trueClasses.reduce((sum, c) => sum + (classAccuracy.get(c) ?? 0) * (support.get(c) ?? 0), 0) /
      classified.length,
  );
  const micro = percent(hits, classified.length);

  const classes = [...seen].sort(byBytes);
  const confusionMatrix: MetricChartData[] = classes.flatMap((truth) =>
    classes.map((predicted) => ({
      x: predicted,
      y: truth,
      z: String(percent(cells.get(`${truth}\u0000${predicted}`) ?? 0, support.get(truth) ?? 0)),
    })),
  );
  const series = (value: (c: string) => number): MetricChartData[] =>
    trueClasses.map((c) => ({ x: String(value(c)), y: c, z: null }));

  return {
    values: {
      accuracy: { total: micro, micro, macro, weighted },
      missing: percent(missing, total),
      newLabels: percent(newLabels, total),
    },
    charts: {
      confusionMatrix,
      seriesAccuracy: series((c) => Math.trunc(classAccuracy.get(c) ?? 0)),
      seriesRecall: series((c) => Math.trunc(classAccuracy.get(c) ?? 0)),
      seriesSupport: series((c) => support.get(c) ?? 0),
      successVsFails: successVsFails(classified, span),
    },
  };
}

function successVsFails(
  classified: readonly { time: Date; predicted: string; truth: string }[],
  span: number,
): MetricChartData[] {
  const hourly = span <= 7 * DAY_MS;
  const width = hourly ? HOUR_MS : DAY_MS;
  // A loop, not Math.min(...times): a spread of 200,000 arguments overflows the stack.
  let earliest = Infinity;
  let last = -Infinity;
  for (const c of classified) {
    earliest = Math.min(earliest, c.time.getTime());
    last = Math.max(last, c.time.getTime());
  }
  const first = Math.floor(earliest / HOUR_MS) * HOUR_MS;
  const buckets = new Map<number, { hits: number; count: number }>();
  for (const c of classified) {
    const start = first + Math.floor((c.time.getTime() - first) / width) * width;
    const bucket = buckets.get(start) ?? { hits: 0, count: 0 };
    bucket.count += 1;
    if (c.predicted === c.truth) bucket.hits += 1;
    buckets.set(start, bucket);
  }
  const points: MetricChartData[] = [];
  for (let start = first; start <= last; start += width) {
    const bucket = buckets.get(start);
    points.push({
      x: label(start, hourly),
      y: bucket ? String(percent(bucket.hits, bucket.count)) : '',
      z: null,
    });
  }
  return points;
}
