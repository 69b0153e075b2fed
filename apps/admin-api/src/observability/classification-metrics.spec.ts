import { describe, expect, it } from 'vitest';
import { type PredictionRow, classificationMetrics } from './classification-metrics.js';

const DAY = 86_400_000;
const at = (hhmm: string) => new Date(`2026-12-05T${hhmm}:00Z`);
const hit = (hhmm: string, c: string): PredictionRow => ({
  time: at(hhmm),
  predictedValue: c,
  trueValue: c,
});
const miss = (hhmm: string, truth: string, predicted: string): PredictionRow => ({
  time: at(hhmm),
  predictedValue: predicted,
  trueValue: truth,
});

/**
 * By hand: 8 predictions, 2 errors, 6 classified, 4 hits.
 * support cat 3 (2 hits), dog 2 (2 hits), bird 1 (0 hits) → class accuracy 66.6 %, 100 %, 0 %.
 * micro = total = 4/6 = 66; macro = (66.6 + 100 + 0) / 3 = 55.5 → 55;
 * weighted = (66.6·3 + 100·2 + 0·1) / 6 = 66; missing = newLabels = 1/8 = 12.
 */
const FIXTURE: PredictionRow[] = [
  hit('09:05', 'cat'),
  miss('09:20', 'cat', 'dog'),
  hit('11:10', 'dog'),
  hit('12:10', 'dog'),
  miss('12:30', 'bird', 'cat'),
  { time: at('12:50'), error: 'MISSING_VALUES' },
  { time: at('12:55'), error: 'NEW_LABELS' },
  hit('12:59', 'cat'),
];

describe(classificationMetrics.name, () => {
  it("gives KRE's numbers for the hand-computed fixture", () => {
    const sut = classificationMetrics(FIXTURE, DAY);
    expect(sut?.values).toEqual({
      accuracy: { total: 66, micro: 66, macro: 55, weighted: 66 },
      missing: 12,
      newLabels: 12,
    });
    const cells = sut?.charts.confusionMatrix.map((c) => `${c.y}>${c.x}=${c.z}`);
    expect(cells).toEqual([
      'bird>bird=0',
      'bird>cat=100',
      'bird>dog=0',
      'cat>bird=0',
      'cat>cat=66',
      'cat>dog=33',
      'dog>bird=0',
      'dog>cat=0',
      'dog>dog=100',
    ]);
    const xy = (series: { x: string; y: string }[] | undefined) =>
      series?.map((p) => `${p.y}:${p.x}`);
    expect(xy(sut?.charts.seriesAccuracy)).toEqual(['bird:0', 'cat:66', 'dog:100']);
    expect(xy(sut?.charts.seriesRecall)).toEqual(['bird:0', 'cat:66', 'dog:100']);
    expect(xy(sut?.charts.seriesSupport)).toEqual(['bird:1', 'cat:3', 'dog:2']);
  });

  it('buckets success by the hour over up to 7 days, from the first hour, "" when empty', () => {
    expect(classificationMetrics(FIXTURE, 7 * DAY)?.charts.successVsFails).toEqual([
      { x: '5 Dec 2026 09:00 UTC', y: '50', z: null },
      { x: '5 Dec 2026 10:00 UTC', y: '', z: null },
      { x: '5 Dec 2026 11:00 UTC', y: '100', z: null },
      { x: '5 Dec 2026 12:00 UTC', y: '66', z: null },
    ]);
  });

  it('buckets by the day over a longer range', () => {
    expect(classificationMetrics(FIXTURE, 7 * DAY + 1)?.charts.successVsFails).toEqual([
      { x: '5 Dec 2026', y: '66', z: null },
    ]);
  });

  it('is null without predictions or with none classified', () => {
    expect(classificationMetrics([], DAY)).toBeNull();
    expect(classificationMetrics([{ time: at('10:00'), error: 'NEW_LABELS' }], DAY)).toBeNull();
  });
});
