import { describe, expect, it } from 'vitest';
import { addWindow, emptyHistogram, quantile } from './histogram.js';

describe(quantile.name, () => {
  it('interpolates within the bucket holding the rank, over merged windows', () => {
    const h = emptyHistogram();
    addWindow(h, [10, 20, 50], [50, 0, 0, 0], 9); // 50 samples ≤ 10 ms
    addWindow(h, [10, 20, 50], [0, 40, 10, 0], 45); // 40 in (10, 20], 10 in (20, 50]
    expect(h.total).toBe(100);
    expect(quantile(h, 0.5)).toBe(10); // the 50th sample: the top of the first bucket
    expect(quantile(h, 0.7)).toBe(15); // 20 of the 40 in (10, 20]
    expect(quantile(h, 0.95)).toBe(35); // half of (20, 50]
    expect(quantile(h, 0.99)).toBe(45); // capped by the largest latency seen
  });

  it('bounds the open last bucket by the largest latency', () => {
    const h = emptyHistogram();
    addWindow(h, [10], [0, 4], 90);
    expect(quantile(h, 0.5)).toBe(50); // half-way between 10 and 90
  });

  it('is null without samples', () => {
    expect(quantile(emptyHistogram(), 0.5)).toBeNull();
  });
});
