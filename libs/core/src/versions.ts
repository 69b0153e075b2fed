/**
 * The version lifecycle: statuses, and for each lifecycle action the status it sets at once,
 * the job it queues and the status it ends in. admin-api and the deployer both follow this one
 * table (docs/lifecycle.md renders it).
 */
export enum VersionStatus {
  CREATED = 'CREATED',
  STARTING = 'STARTING',
  STARTED = 'STARTED',
  PUBLISHED = 'PUBLISHED',
  STOPPING = 'STOPPING',
  STOPPED = 'STOPPED',
  ERROR = 'ERROR',
  DELETING = 'DELETING',
}

/** Jobs of the `versions` queue. */
export type VersionJobName =
  'start' | 'stop' | 'publish' | 'unpublish' | 'update-config' | 'delete';

export type VersionAction = 'start' | 'stop' | 'publish' | 'unpublish' | 'delete';

export interface VersionTransition {
  /** Statuses the action is allowed from. */
  readonly from: readonly VersionStatus[];
  /** Set at once, with the job queued; rolled back when queueing fails. */
  readonly now: VersionStatus;
  readonly job: VersionJobName;
  /** Where the job leaves the version when it succeeds (final failure: ERROR). */
  readonly end: VersionStatus | 'removed';
}

export const VERSION_TRANSITIONS: Readonly<Record<VersionAction, VersionTransition>> = {
  start: {
    from: [VersionStatus.CREATED, VersionStatus.STOPPED, VersionStatus.ERROR],
    now: VersionStatus.STARTING,
    job: 'start',
    end: VersionStatus.STARTED,
  },
  stop: {
    from: [VersionStatus.STARTED, VersionStatus.ERROR],
    now: VersionStatus.STOPPING,
    job: 'stop',
    end: VersionStatus.STOPPED,
  },
  publish: {
    from: [VersionStatus.STARTED],
    now: VersionStatus.PUBLISHED,
    job: 'publish',
    end: VersionStatus.PUBLISHED,
  },
  unpublish: {
    from: [VersionStatus.PUBLISHED],
    now: VersionStatus.STARTED,
    job: 'unpublish',
    end: VersionStatus.STARTED,
  },
  delete: {
    from: [VersionStatus.CREATED, VersionStatus.STOPPED, VersionStatus.ERROR],
    now: VersionStatus.DELETING,
    job: 'delete',
    end: 'removed',
  },
};

/** Statuses in which the version's workloads run (config changes roll them). */
export const RUNNING_STATUSES: readonly VersionStatus[] = [
  VersionStatus.STARTED,
  VersionStatus.PUBLISHED,
];

/** Statuses a job is on its way out of: a reconciler finishes or fails them when no job is live. */
export const TRANSITIONAL_STATUSES: readonly VersionStatus[] = [
  VersionStatus.STARTING,
  VersionStatus.STOPPING,
  VersionStatus.DELETING,
];

/** The job that takes a version out of a transitional status (STARTING → start, …). */
export function jobOutOf(status: VersionStatus): VersionJobName | undefined {
  if (!TRANSITIONAL_STATUSES.includes(status)) return undefined;
  return Object.values(VERSION_TRANSITIONS).find((t) => t.now === status)?.job;
}

/** Where a lifecycle job that succeeded leaves the version (`delete` removes it instead). */
export function statusAfter(action: Exclude<VersionAction, 'delete'>): VersionStatus {
  const { end } = VERSION_TRANSITIONS[action];
  if (end === 'removed') throw new Error(`${action} removes the version`);
  return end;
}
