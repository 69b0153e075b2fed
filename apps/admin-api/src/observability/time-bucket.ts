import { registerEnumType } from '@nestjs/graphql';
import { BadUserInputError } from '@libs/core';

export enum TimeBucket {
  MINUTE = 'MINUTE',
  FIVE_MINUTES = 'FIVE_MINUTES',
  HOUR = 'HOUR',
  DAY = 'DAY',
}
registerEnumType(TimeBucket, {
  name: 'TimeBucket',
  description: 'The width of a series point; points start at multiples of it (UTC).',
});

const BUCKET_MS: Record<TimeBucket, number> = {
  [TimeBucket.MINUTE]: 60_000,
  [TimeBucket.FIVE_MINUTES]: 300_000,
  [TimeBucket.HOUR]: 3_600_000,
  [TimeBucket.DAY]: 86_400_000,
};

/** The most points one series may have. */
export const SERIES_POINTS_MAX = 2_000;

export function bucketMs(bucket: TimeBucket): number {
  return BUCKET_MS[bucket];
}

/** The start of the bucket `time` falls in. */
export function bucketStart(time: Date, bucket: TimeBucket): number {
  const width = BUCKET_MS[bucket];
  return Math.floor(time.getTime() / width) * width;
}

/**
 * @throws BadUserInputError (field `bucket`) when the range would give more than
 * SERIES_POINTS_MAX points.
 */
export function checkBucket(from: Date, to: Date, bucket: TimeBucket): void {
  const points = (bucketStart(to, bucket) - bucketStart(from, bucket)) / BUCKET_MS[bucket] + 1;
  if (points > SERIES_POINTS_MAX)
    throw new BadUserInputError([
      {
        field: 'bucket',
        message: `gives ${points} points over this range; at most ${SERIES_POINTS_MAX} are allowed: choose a larger bucket or a shorter range`,
      },
    ]);
}
