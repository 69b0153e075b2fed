import { BadUserInputError } from '@libs/core';

/**
 * Where a page ended: the last line's time and its `_id` (unique in the runtime's day collection:
 * the producer-made record id, or the stream sequence of a record without one).
 */
export interface LogPosition {
  time: Date;
  id: number | string;
}

const RECORD_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** An opaque cursor: the position, base64url JSON. */
export function encodeLogCursor(position: LogPosition): string {
  return Buffer.from(JSON.stringify([position.time.getTime(), position.id])).toString('base64url');
}

/** @throws BadUserInputError (field `cursor`) for anything `encodeLogCursor` did not make. */
export function decodeLogCursor(cursor: string): LogPosition {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      Number.isSafeInteger(value[0]) &&
      (value[0] as number) >= 0 &&
      ((Number.isSafeInteger(value[1]) && (value[1] as number) >= 0) ||
        (typeof value[1] === 'string' && RECORD_ID.test(value[1])))
    )
      return { time: new Date(value[0] as number), id: value[1] as number | string };
  } catch {
    // reported below
  }
  throw new BadUserInputError([{ field: 'cursor', message: 'is not a cursor this query gave' }]);
}

/**
 * The database filter of the lines after `position` in newest-first order (time, then `_id`).
 * Both databases order a string `_id` after every number one (BSON type order) and compare only
 * within a type, so after a string id come the smaller strings and then every numeric id of the
 * same time (older records stored before their runners made ids).
 */
export function olderThan(position: LogPosition): Record<string, unknown> {
  const sameTime: Record<string, unknown>[] = [{ time: position.time, _id: { $lt: position.id } }];
  if (typeof position.id === 'string')
    sameTime.push({ time: position.time, _id: { $type: 'number' } });
  return { $or: [{ time: { $lt: position.time } }, ...sameTime] };
}
