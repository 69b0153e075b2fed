import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock } from '@libs/core';
import { type LogLine, logsQuery } from './log-filters.js';
import { decodeLogCursor, encodeLogCursor, olderThan } from './logs-cursor.js';
import type { LogFilters } from './logs.inputs.js';
import { type LogLevel, type LogPage, type NodeLog } from './logs.model.js';
import { checkedRange } from './obs-range.js';
import { type ObsRecordDoc, ObsRecordsRepository } from './obs-records.repository.js';

type LogDoc = ObsRecordDoc & LogLine;

/** A stored or live log line as the API shows it. */
export function toNodeLog(id: string | number | null, line: LogLine): NodeLog {
  return {
    id: id === null ? null : String(id),
    date: line.time,
    level: line.level as LogLevel,
    message: line.message,
    versionName: line.origin.version,
    workflowName: line.origin.workflow || null,
    nodeName: line.origin.node,
    replica: line.origin.replica,
    requestId: line.requestId || null,
    source: line.source,
    fields: line.fields && Object.keys(line.fields).length ? JSON.stringify(line.fields) : null,
  };
}

/** The `logs` query: a runtime's stored log lines, newest first, a page at a time. */
@Injectable()
export class LogsService {
  constructor(
    private readonly records: ObsRecordsRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * One page of lines matching `filters`, newest first (by time, then stream sequence): stable
   * across day collections and under concurrent writes of newer lines.
   * @throws BadUserInputError for a reversed or too long range, or a cursor it did not make.
   */
  async page(
    runtimeId: string,
    filters: LogFilters,
    cursor: string | undefined,
    limit: number,
  ): Promise<LogPage> {
    const range = checkedRange(filters.startDate, filters.endDate, this.clock.now(), {
      from: 'filters.startDate',
      to: 'filters.endDate',
    });
    const after = cursor ? decodeLogCursor(cursor) : undefined;
    const newest = after && after.time < range.to ? after.time : range.to;
    const days = await this.records.days(runtimeId, 'logs', range.from, newest);
    const filter = {
      ...logsQuery(filters),
      time: { $gte: range.from, $lte: range.to },
      ...(after ? olderThan(after) : {}),
    };
    // One more than the page: whether there is a next page, without an empty last one.
    const docs = await this.records.newestFirst<LogDoc>(runtimeId, days, filter, limit + 1);
    const items = docs.slice(0, limit);
    const last = items.at(-1);
    return {
      items: items.map((doc) => toNodeLog(doc._id, doc)),
      cursor:
        docs.length > limit && last ? encodeLogCursor({ time: last.time, id: last._id }) : null,
    };
  }
}
