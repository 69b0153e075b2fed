import { VersionStatus } from '@libs/core';

/** Versions with workloads that should be running (watched, sampled and scaled while so). */
export const RUNNING_STATUSES: readonly VersionStatus[] = [
  VersionStatus.STARTING,
  VersionStatus.STARTED,
  VersionStatus.PUBLISHED,
];

/** `entrypoint` → the entrypoint; `<workflow>.<node>` → that node (deployment-plan.ts ids). */
export function targetOf(workloadId: string): { workflow: string; node: string } {
  const dot = workloadId.indexOf('.');
  return dot < 0
    ? { workflow: '', node: workloadId }
    : { workflow: workloadId.slice(0, dot), node: workloadId.slice(dot + 1) };
}
