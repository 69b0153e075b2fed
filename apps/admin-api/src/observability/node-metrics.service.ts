import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock } from '@libs/core';
import { type Histogram, addWindow, emptyHistogram, quantile } from './histogram.js';
import type { NodeMetrics } from './metrics.model.js';
import { checkedRange } from './obs-range.js';
import { type ObsRecordDoc, ObsRecordsRepository } from './obs-records.repository.js';
import { type TimeBucket, bucketStart, checkBucket } from './time-bucket.js';

/** A node metric window as mongo-writer stores it (one per node, input and replica). */
interface MetricDoc extends ObsRecordDoc {
  end: Date;
  origin: { workflow?: string; node: string };
  count: number;
  errors?: number;
  elapsedMsSum?: number;
  elapsedMsMax?: number;
  bucketBoundsMs: number[];
  bucketCounts: number[];
}

interface Bucket {
  requests: number;
  errors: number;
  sum: number;
  histogram: Histogram;
}

/**
 * The `nodeMetrics` query: each node's request and error counts and latency percentiles per
 * bucket, summed over its replicas and inputs from the windows the runners send. Computed in
 * code: FerretDB cannot aggregate histograms.
 */
@Injectable()
export class NodeMetricsService {
  constructor(
    private readonly records: ObsRecordsRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** @throws BadUserInputError for a reversed or too long range, or too many points. */
  async series(
    runtimeId: string,
    versionName: string,
    from: Date,
    to: Date | undefined,
    bucket: TimeBucket,
  ): Promise<NodeMetrics[]> {
    const range = checkedRange(from, to, this.clock.now(), { from: 'from', to: 'to' });
    checkBucket(range.from, range.to, bucket);
    const days = await this.records.days(runtimeId, 'metrics', range.from, range.to);
    const docs = await this.records.all<MetricDoc>(
      runtimeId,
      days,
      { 'origin.version': versionName, end: { $gte: range.from, $lte: range.to } },
      {
        end: 1,
        origin: 1,
        count: 1,
        errors: 1,
        elapsedMsSum: 1,
        elapsedMsMax: 1,
        bucketBoundsMs: 1,
        bucketCounts: 1,
      },
      'from',
    );
    const nodes = new Map<
      string,
      { workflow: string; node: string; buckets: Map<number, Bucket> }
    >();
    for (const doc of docs) {
      const workflow = doc.origin.workflow ?? '';
      const key = `${workflow}\u0000${doc.origin.node}`;
      let series = nodes.get(key);
      if (!series)
        nodes.set(key, (series = { workflow, node: doc.origin.node, buckets: new Map() }));
      const start = bucketStart(doc.end, bucket);
      let point = series.buckets.get(start);
      if (!point)
        series.buckets.set(
          start,
          (point = { requests: 0, errors: 0, sum: 0, histogram: emptyHistogram() }),
        );
      point.requests += doc.count;
      point.errors += doc.errors ?? 0;
      point.sum += doc.elapsedMsSum ?? 0;
      addWindow(point.histogram, doc.bucketBoundsMs, doc.bucketCounts, doc.elapsedMsMax ?? 0);
    }
    return [...nodes.values()]
      .sort((a, b) => a.workflow.localeCompare(b.workflow) || a.node.localeCompare(b.node))
      .map((series) => ({
        workflowName: series.workflow || null,
        nodeName: series.node,
        points: [...series.buckets.entries()]
          .sort(([a], [b]) => a - b)
          .map(([start, p]) => ({
            date: new Date(start),
            requests: p.requests,
            errors: p.errors,
            latencyP50Ms: quantile(p.histogram, 0.5),
            latencyP95Ms: quantile(p.histogram, 0.95),
            latencyP99Ms: quantile(p.histogram, 0.99),
            latencyMeanMs: p.requests > 0 ? p.sum / p.requests : null,
            latencyMaxMs: p.requests > 0 ? p.histogram.max : null,
          })),
      }));
  }
}
