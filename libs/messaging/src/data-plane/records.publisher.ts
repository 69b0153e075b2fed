import { hostname } from 'node:os';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { Names } from '@libs/naming';
import { NATS_CONNECTION } from '../nats.module.js';
import type { JsonValue } from './proto-json.js';
import {
  type LogLevel,
  type LogSource,
  type Origin,
  encodeRecord,
  newRecordId,
} from './records.js';

const MAX_MESSAGE = 16 * 1024;

/**
 * An engine component's log lines about a runtime's version, where its team reads the runners'
 * (the deployer's steps and replica crashes): records with a fresh id on the runtime's
 * `<p>.<rt>.obs.logs`, stored by mongo-writer and followed by watchNodeLogs. Core NATS, fire and
 * forget: the caller never waits for (nor fails on) a line. Pass masked text only: a runtime's
 * VIEWERs read these.
 */
@Injectable()
export class EngineLogPublisher {
  private readonly logger = new Logger(EngineLogPublisher.name);
  /** This process, as the records' `origin.replica`. */
  private readonly replica = `${hostname()}-${process.pid}`;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    private readonly names: Names,
  ) {}

  /** Publishes one line; never throws. */
  log(
    origin: Omit<Origin, 'replica'>,
    source: LogSource,
    level: LogLevel,
    message: string,
    fields?: Record<string, JsonValue>,
  ): void {
    if (this.nc.isClosed()) return;
    try {
      const text =
        message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}… (truncated)` : message;
      const bytes = encodeRecord('logs', {
        id: newRecordId(),
        time: new Date(),
        origin: { ...origin, replica: this.replica },
        level,
        message: text,
        source,
        ...(fields ? { fields } : {}),
      });
      this.nc.publish(this.names.obsSubject(origin.runtimeId, 'logs'), bytes);
    } catch (error) {
      this.logger.warn(
        `log line dropped: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  /**
   * Publishes one measurement about a version (the deployer's samples of its replicas' resource
   * use, `kre_replica_resources`); `origin.replica` names the replica measured. Never throws.
   */
  measurement(
    origin: Origin,
    name: string,
    fields: Record<string, number | boolean | string>,
    tags: Record<string, string>,
    time = new Date(),
  ): void {
    if (this.nc.isClosed()) return;
    try {
      const bytes = encodeRecord('measurements', {
        id: newRecordId(),
        time,
        origin,
        name,
        fields,
        tags,
      });
      this.nc.publish(this.names.obsSubject(origin.runtimeId, 'measurements'), bytes);
    } catch (error) {
      this.logger.warn(
        `measurement dropped: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
}
