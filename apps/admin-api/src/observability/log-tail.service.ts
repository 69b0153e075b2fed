import { Inject, Injectable, Logger } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { NATS_CONNECTION, decodeRecord } from '@libs/messaging';
import { Names } from '@libs/naming';
import { SubscriptionQueue } from '../common/subscription-queue.js';
import { type LogLine, type LogMatch, logMatches } from './log-filters.js';
import type { NodeLog } from './logs.model.js';
import { toNodeLog } from './logs.service.js';

/**
 * A decoded log record (proto3 JSON) as a line, or undefined when it is not one of `runtimeId`'s
 * (a workload can publish only under its own runtime's prefix; checked again all the same).
 */
export function logLineOf(runtimeId: string, record: Record<string, unknown>): LogLine | undefined {
  const origin = record.origin as (LogLine['origin'] & { runtimeId?: string }) | undefined;
  if (!origin || origin.runtimeId !== runtimeId) return undefined;
  return {
    time: new Date(String(record.time)),
    level: String(record.level).replace('LOG_LEVEL_', ''),
    message: String(record.message),
    requestId: typeof record.requestId === 'string' ? record.requestId : undefined,
    source: String(record.source).replace('LOG_SOURCE_', ''),
    origin: {
      version: origin.version,
      workflow: origin.workflow ?? '',
      node: origin.node,
      replica: origin.replica,
    },
    fields: record.fields as Record<string, unknown> | undefined,
  };
}

/**
 * `watchNodeLogs`: the live tail of a version's log lines, straight from NATS (the runners
 * publish each line on `<p>.<rt>.obs.logs`; no change stream, so no replica set), each
 * subscriber with its own NATS subscription and its own filter, every filter applied (KRE ignored
 * search and workflows). A subscriber that cannot keep up loses the oldest lines
 * (SubscriptionQueue); ending the subscription unsubscribes from NATS at once.
 */
@Injectable()
export class LogTailService {
  private readonly logger = new Logger(LogTailService.name);

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    private readonly names: Names,
  ) {}

  /** Lines of `versionName` in `runtimeId` matching `match` (the resolver checked the role). */
  follow(runtimeId: string, versionName: string, match: LogMatch): SubscriptionQueue<NodeLog> {
    const subject = this.names.obsSubject(runtimeId, 'logs');
    const own: LogMatch = { ...match, versionNames: [versionName] };
    const queue: SubscriptionQueue<NodeLog> = new SubscriptionQueue<NodeLog>({
      name: `watchNodeLogs ${runtimeId} ${versionName}`,
      onEnd: () => {
        if (!this.nc.isClosed()) sub.unsubscribe();
      },
    });
    const sub = this.nc.subscribe(subject, {
      callback: (error, msg) => {
        if (error) {
          this.logger.warn(`${subject}: ${error.message}`);
          return queue.end();
        }
        let record: Record<string, unknown>;
        try {
          record = decodeRecord('logs', msg.data);
        } catch {
          return; // mongo-writer counts and logs invalid records; the tail just skips them
        }
        const line = logLineOf(runtimeId, record);
        // The producer-made id is the stored line's id too (none from runners predating it).
        const id = typeof record.id === 'string' ? record.id : null;
        if (line && logMatches(own, line)) queue.push(toNodeLog(id, line));
      },
    });
    // The connection draining (shutdown) or a permission error ends the tail, never leaves it
    // waiting for lines that cannot come.
    void sub.closed.then((reason) => {
      if (reason instanceof Error) this.logger.warn(`${subject}: ${reason.message}`);
      queue.end();
    });
    return queue;
  }
}
