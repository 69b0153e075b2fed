import { BadUserInputError } from '@libs/core';

/** Where a page ended: the last line's time and its stream sequence (unique in the runtime). */
export interface LogPosition {
  time: Date;
  id: number;
}

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
      value.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)
    )
      return { time: new Date(value[0] as number), id: value[1] as number };
  } catch {
    // reported below
  }
  throw new BadUserInputError([{ field: 'cursor', message: 'is not a cursor this query gave' }]);
}

/** The database filter of the lines after `position` in newest-first order (time, then id). */
export function olderThan(position: LogPosition): Record<string, unknown> {
  return {
    $or: [{ time: { $lt: position.time } }, { time: position.time, _id: { $lt: position.id } }],
  };
}
