import { BadUserInputError } from '@libs/core';
import { OBS_RANGE_MAX_DAYS } from './logs.inputs.js';

const DAY_MS = 86_400_000;

/**
 * A query's time range: `from` required, `to` default `now`; `to` must not precede `from` and the
 * range may span at most OBS_RANGE_MAX_DAYS. `fields` name the two arguments in errors.
 * @throws BadUserInputError naming the field.
 */
export function checkedRange(
  from: Date,
  to: Date | undefined,
  now: Date,
  fields: { from: string; to: string },
): { from: Date; to: Date } {
  const end = to ?? now;
  if (end.getTime() < from.getTime())
    throw new BadUserInputError([{ field: fields.to, message: `must not precede ${fields.from}` }]);
  if (end.getTime() - from.getTime() > OBS_RANGE_MAX_DAYS * DAY_MS)
    throw new BadUserInputError([
      {
        field: fields.to,
        message: `must be at most ${OBS_RANGE_MAX_DAYS} days after ${fields.from}`,
      },
    ]);
  return { from, to: end };
}
