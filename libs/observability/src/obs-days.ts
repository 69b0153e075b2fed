/**
 * The day collections of a runtime's observability records (`<kind>_YYYY_MM_DD`, UTC): one per
 * record kind and day, so a query reads only the days it asks for and retention drops whole
 * collections (FerretDB has no TTL index). mongo-writer writes them, admin-api reads them.
 */
export type ObsKind = 'logs' | 'metrics' | 'predictions' | 'measurements';

export const OBS_KINDS: readonly ObsKind[] = ['logs', 'metrics', 'predictions', 'measurements'];

const DAY_MS = 86_400_000;
const DAY_COLLECTION = /^(logs|metrics|predictions|measurements)_(\d{4})_(\d{2})_(\d{2})$/;

/** The last day named (mongo-writer names one per record, nearly all of the same day). */
let lastDay = { day: Number.NaN, suffix: '' };

/** The collection of `kind` for the UTC day `time` falls on (`logs_2026_12_06`). */
export function dayCollection(kind: ObsKind, time: Date): string {
  const day = Math.floor(time.getTime() / DAY_MS);
  if (day !== lastDay.day)
    lastDay = { day, suffix: time.toISOString().slice(0, 10).replaceAll('-', '_') };
  return `${kind}_${lastDay.suffix}`;
}

/** The kind and UTC midnight of a day collection's name, or undefined for any other name. */
export function parseDayCollection(name: string): { kind: ObsKind; day: Date } | undefined {
  const match = DAY_COLLECTION.exec(name);
  if (!match) return undefined;
  const day = new Date(`${match[2]}-${match[3]}-${match[4]}T00:00:00.000Z`);
  if (Number.isNaN(day.getTime()) || dayCollection('logs', day).slice(5) !== name.slice(-10))
    return undefined;
  return { kind: match[1] as ObsKind, day };
}

/** UTC midnight of the day `time` falls on. */
export function startOfDay(time: Date): Date {
  return new Date(Math.floor(time.getTime() / DAY_MS) * DAY_MS);
}

/**
 * The day collections of `kind` from the day of `to` back to the day of `from` (both included),
 * newest first: the order a newest-first query reads them in.
 */
export function dayCollectionsBetween(kind: ObsKind, from: Date, to: Date): string[] {
  const names: string[] = [];
  for (let day = startOfDay(to).getTime(); day >= startOfDay(from).getTime(); day -= DAY_MS)
    names.push(dayCollection(kind, new Date(day)));
  return names;
}

/**
 * Whether retention of `days` drops the day collection of UTC midnight `day` at `now`: only
 * once every record it can hold (up to the day's end) is older than `days` days.
 */
export function isExpiredDay(day: Date, days: number, now: Date): boolean {
  return day.getTime() + DAY_MS <= now.getTime() - days * DAY_MS;
}
