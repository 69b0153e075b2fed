import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock } from '@libs/core';
import type { MeasurementPoint } from './metrics.model.js';
import { checkedRange } from './obs-range.js';
import { type ObsRecordDoc, ObsRecordsRepository } from './obs-records.repository.js';
import { type TimeBucket, bucketStart, checkBucket } from './time-bucket.js';

interface MeasurementDoc extends ObsRecordDoc {
  time: Date;
  fields: Record<string, number | boolean | string>;
}

interface FieldStats {
  count: number;
  sum: number;
  min: number;
  max: number;
}

/**
 * A key as mongo-writer stores it in a free-form map: `.` anywhere and a leading `$` in full
 * width (FerretDB refuses them), so a tag filter names the stored key.
 */
export function storedKey(key: string): string {
  return key.replaceAll('.', '\uff0e').replace(/^\$/, '\uff04');
}

/** The key a user wrote, from its stored form (`storedKey`). */
export function shownKey(key: string): string {
  return key.replaceAll('\uff0e', '.').replace(/^\uff04/, '$');
}

/**
 * The `measurements` query: a version's custom measurement `name` (KRE sent these to InfluxDB;
 * here they live beside the rest), per bucket: how many points, and count, sum, mean, min and
 * max of each numeric or boolean field. Computed in code (FerretDB cannot group).
 */
@Injectable()
export class MeasurementsService {
  constructor(
    private readonly records: ObsRecordsRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** @throws BadUserInputError for a reversed or too long range, or too many points. */
  async series(
    runtimeId: string,
    versionName: string,
    name: string,
    from: Date,
    to: Date | undefined,
    bucket: TimeBucket,
    tags: readonly { key: string; value: string }[] = [],
  ): Promise<MeasurementPoint[]> {
    const range = checkedRange(from, to, this.clock.now(), { from: 'from', to: 'to' });
    checkBucket(range.from, range.to, bucket);
    const days = await this.records.days(runtimeId, 'measurements', range.from, range.to);
    const filter: Record<string, unknown> = {
      'origin.version': versionName,
      name,
      time: { $gte: range.from, $lte: range.to },
    };
    for (const { key, value } of tags) filter[`tags.${storedKey(key)}`] = value;
    const docs = await this.records.all<MeasurementDoc>(
      runtimeId,
      days,
      filter,
      {
        time: 1,
        fields: 1,
      },
      'from',
    );
    const buckets = new Map<number, { count: number; fields: Map<string, FieldStats> }>();
    for (const doc of docs) {
      const start = bucketStart(doc.time, bucket);
      let point = buckets.get(start);
      if (!point) buckets.set(start, (point = { count: 0, fields: new Map() }));
      point.count += 1;
      for (const [field, raw] of Object.entries(doc.fields ?? {})) {
        const value = typeof raw === 'boolean' ? Number(raw) : raw;
        if (typeof value !== 'number' || !Number.isFinite(value)) continue;
        const stats = point.fields.get(field);
        if (!stats) point.fields.set(field, { count: 1, sum: value, min: value, max: value });
        else {
          stats.count += 1;
          stats.sum += value;
          stats.min = Math.min(stats.min, value);
          stats.max = Math.max(stats.max, value);
        }
      }
    }
    return [...buckets.entries()]
      .sort(([a], [b]) => a - b)
      .map(([start, point]) => ({
        date: new Date(start),
        count: point.count,
        fields: [...point.fields.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([field, s]) => ({ name: shownKey(field), ...s, mean: s.sum / s.count })),
      }));
  }
}
