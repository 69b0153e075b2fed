import { Injectable } from '@nestjs/common';
import { EngineLogPublisher, type JsonValue, type LogLevel } from '@libs/messaging';

/** Which part of a version a line is about: the version as a whole, or one workload. */
export interface VersionLogTarget {
  runtimeId: string;
  versionName: string;
  /** The replica's workflow (empty for the entrypoint and for the version as a whole). */
  workflow?: string;
  /** The replica's node (`entrypoint`), or `deployer` (the default) for the version as a whole. */
  node?: string;
}

/**
 * What the deployer has to say about a version, in the version's logs (source DEPLOYER), where
 * its team reads the nodes' lines: the jobs' steps and failures, replicas crashing and running
 * again. Only masked text may be passed in.
 */
@Injectable()
export class VersionLogService {
  constructor(private readonly records: EngineLogPublisher) {}

  /** Publishes one line; never throws. */
  log(
    target: VersionLogTarget,
    level: LogLevel,
    message: string,
    fields?: Record<string, JsonValue>,
  ): void {
    this.records.log(
      {
        runtimeId: target.runtimeId,
        version: target.versionName,
        workflow: target.workflow ?? '',
        node: target.node ?? 'deployer',
      },
      'DEPLOYER',
      level,
      message,
      fields,
    );
  }
}
