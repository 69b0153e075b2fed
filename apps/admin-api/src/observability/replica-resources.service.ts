import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock } from '@libs/core';
import { type ObsRecordDoc, ObsRecordsRepository } from './obs-records.repository.js';
import type { ReplicaResources } from './replica-resources.model.js';

/** The deployer's measurement of each replica (apps/deployer/src/replica-usage.service.ts). */
export const REPLICA_RESOURCES_MEASUREMENT = 'kre_replica_resources';
/** How far back a sample counts as live: several of the deployer's 15 s periods. */
export const REPLICA_RESOURCES_LIVE_MS = 2 * 60_000;
/** Samples read at most (the newest): far more than a version's replicas in two minutes. */
const MAX_SAMPLES = 5_000;

interface SampleDoc extends ObsRecordDoc {
  time: Date;
  origin: { replica?: string };
  fields?: Record<string, number | boolean | string>;
  tags?: Record<string, string>;
}

const numberOr = (value: unknown, fallback: number | null) =>
  typeof value === 'number' ? value : fallback;

/**
 * `replicaResources`: each replica's newest sample of the last two minutes (a stopped version's
 * replicas drop out), sorted by workload and replica.
 */
@Injectable()
export class ReplicaResourcesService {
  constructor(
    private readonly records: ObsRecordsRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async latest(runtimeId: string, versionName: string): Promise<ReplicaResources[]> {
    const to = this.clock.now();
    const from = new Date(to.getTime() - REPLICA_RESOURCES_LIVE_MS);
    const days = await this.records.days(runtimeId, 'measurements', from, to);
    const docs = await this.records.newestFirst<SampleDoc>(
      runtimeId,
      days,
      {
        'origin.version': versionName,
        name: REPLICA_RESOURCES_MEASUREMENT,
        time: { $gte: from, $lte: to },
      },
      MAX_SAMPLES,
    );
    const newest = new Map<string, ReplicaResources>();
    for (const doc of docs) {
      const workload = doc.tags?.workload;
      const replica = Number(doc.tags?.replica);
      if (!workload || !Number.isInteger(replica)) continue;
      const key = `${workload}#${replica}`;
      if (newest.has(key)) continue; // newest first: the first seen is the latest
      const fields = doc.fields ?? {};
      newest.set(key, {
        workload,
        replica,
        state: typeof fields.state === 'string' ? fields.state : 'UNKNOWN',
        restarts: numberOr(fields.restarts, 0)!,
        cpuCores: numberOr(fields.cpuCores, null),
        memoryBytes: numberOr(fields.memoryBytes, null),
        sampledAt: doc.time,
        source: doc.tags?.source ?? '',
      });
    }
    return [...newest.values()].sort(
      (a, b) => a.workload.localeCompare(b.workload) || a.replica - b.replica,
    );
  }
}
