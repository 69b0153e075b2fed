import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock } from '@libs/core';
import { type PredictionRow, classificationMetrics } from './classification-metrics.js';
import type { Metrics } from './metrics.model.js';
import { checkedRange } from './obs-range.js';
import {
  type ObsRecordDoc,
  ObsRecordsRepository,
  compareObsIds,
} from './obs-records.repository.js';

type PredictionDoc = ObsRecordDoc & PredictionRow;

/** The `metrics` query: KRE's classification metrics from a version's saved predictions. */
@Injectable()
export class ClassificationMetricsService {
  constructor(
    private readonly records: ObsRecordsRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * Null when the range holds no classified prediction (as KRE).
   * @throws BadUserInputError for a reversed or too long range, or one with too many records.
   */
  async metrics(
    runtimeId: string,
    versionName: string,
    startDate: Date,
    endDate: Date | undefined,
  ): Promise<Metrics | null> {
    const range = checkedRange(startDate, endDate, this.clock.now(), {
      from: 'startDate',
      to: 'endDate',
    });
    const days = await this.records.days(runtimeId, 'predictions', range.from, range.to);
    const docs = await this.records.all<PredictionDoc>(
      runtimeId,
      days,
      { 'origin.version': versionName, time: { $gte: range.from, $lte: range.to } },
      { time: 1, predictedValue: 1, trueValue: 1, error: 1 },
      'startDate',
    );
    // In the order they were saved, as KRE read them: by record id (time, then each producer's
    // emission order), after the stream order of records stored without one.
    docs.sort((a, b) => compareObsIds(a._id, b._id));
    return classificationMetrics(docs, range.to.getTime() - range.from.getTime());
  }
}
