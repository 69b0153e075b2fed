import type { WorkloadService } from './workload.host.js';

/** One workload of a group: `first` ones stop before the others (an entrypoint). */
export interface GroupMember {
  readonly id: string;
  readonly service: WorkloadService;
  readonly stopsFirst?: boolean;
}

/**
 * Several workloads of one version run as one (a version's shared process, `runner shared`):
 * they start together, the entrypoint stops first (the requests it finishes need the nodes, as
 * the local driver orders separate processes), and the group is ready when every member is.
 */
export class WorkloadGroup implements WorkloadService {
  constructor(private readonly members: readonly GroupMember[]) {}

  async start(): Promise<void> {
    await Promise.all(this.members.map((m) => m.service.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.filter((m) => m.stopsFirst).map((m) => m.service.stop()));
    await Promise.all(this.members.filter((m) => !m.stopsFirst).map((m) => m.service.stop()));
  }

  readiness(): { ready: boolean; reason: string } {
    for (const m of this.members) {
      const { ready, reason } = m.service.readiness();
      if (!ready) return { ready, reason: `${m.id}: ${reason}` };
    }
    return { ready: true, reason: `${this.members.length} workloads serve` };
  }
}
