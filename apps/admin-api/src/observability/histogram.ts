/** A latency histogram: counts per upper bound (ms), the last bound Infinity. */
export interface Histogram {
  /** Upper bound → count, over every merged window. */
  readonly counts: Map<number, number>;
  total: number;
  /** The largest latency seen, which bounds the open last bucket. */
  max: number;
}

export function emptyHistogram(): Histogram {
  return { counts: new Map(), total: 0, max: 0 };
}

/**
 * Adds one window's histogram (`bounds` ascending, `counts` one longer: the last is above every
 * bound). Windows with other bounds merge by bound (a runner's buckets are its own).
 */
export function addWindow(
  histogram: Histogram,
  bounds: readonly number[],
  counts: readonly number[],
  max: number,
): void {
  counts.forEach((count, i) => {
    // Empty buckets too: their bounds are the lower bounds of the next.
    const bound = bounds[i] ?? Infinity;
    histogram.counts.set(bound, (histogram.counts.get(bound) ?? 0) + count);
    histogram.total += count;
  });
  histogram.max = Math.max(histogram.max, max);
}

/**
 * The `q` quantile (0–1), interpolated linearly within its bucket as Prometheus's
 * `histogram_quantile` does, never above the largest latency seen; null without samples.
 */
export function quantile(histogram: Histogram, q: number): number | null {
  if (histogram.total === 0) return null;
  const rank = q * histogram.total;
  const bounds = [...histogram.counts.keys()].sort((a, b) => a - b);
  let below = 0;
  let lower = 0;
  for (const bound of bounds) {
    const count = histogram.counts.get(bound) ?? 0;
    if (count > 0 && below + count >= rank) {
      const upper = Number.isFinite(bound) ? bound : Math.max(lower, histogram.max);
      const value = lower + ((upper - lower) * (rank - below)) / count;
      return microseconds(Math.min(value, histogram.max > 0 ? histogram.max : value));
    }
    below += count;
    if (Number.isFinite(bound)) lower = bound;
  }
  return histogram.max;
}

/** ms to the µs: no floating-point noise (29.000000000000004) in what clients see. */
const microseconds = (ms: number) => Math.round(ms * 1_000) / 1_000;
