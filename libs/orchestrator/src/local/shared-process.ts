import { createHash } from 'node:crypto';
import { SHARED_WORKLOADS_ENV, type SharedWorkloads } from '@libs/config';
import type { ReplicaResources } from '@libs/core';
import {
  ENTRYPOINT_WORKLOAD,
  type DeploymentPlan,
  type PortName,
  type WorkloadSpec,
} from '../deployment-plan.js';

/** The workload id of a version's shared process in the local driver's records and logs. */
export const SHARED_WORKLOAD = 'shared';

/**
 * A version's shared process as the local driver runs it (`runner shared`): one process for the
 * first replica of several workloads, with their ports, the sum of their limits, and an env made
 * of what they have in common plus each one's own part (KRT_SHARED_WORKLOADS).
 */
export interface SharedProcessSpec extends Omit<WorkloadSpec, 'id' | 'program'> {
  readonly id: typeof SHARED_WORKLOAD;
  readonly program: 'shared';
  /** The workloads it runs, one replica each (their replica 0): the entrypoint first. */
  readonly members: readonly string[];
}

/**
 * Which of the version's workloads share one process (docs/lifecycle.md, "Density"): its
 * entrypoint and its JavaScript nodes, the first replica of each (further replicas of a node run
 * as processes of their own). A node stays out, in a process of its own, when:
 * - its limits are not the installation's default (`defaults`): the KRT set its `resources`, and
 *   they stay its own;
 * - another member runs the same handler file: a module's state is per node, as each node was
 *   a process of its own in KRE.
 * Python nodes run in their own runner. Undefined when fewer than two would share.
 */
export function sharedProcessOf(
  plan: DeploymentPlan,
  defaults?: ReplicaResources,
): SharedProcessSpec | undefined {
  const members: WorkloadSpec[] = [];
  const handlers = new Set<string>();
  for (const workload of plan.workloads) {
    if (workload.replicas < 1) continue;
    if (workload.program === 'entrypoint') {
      members.unshift(workload);
      continue;
    }
    if (workload.program !== 'runner') continue;
    const own =
      defaults &&
      workload.resources &&
      (workload.resources.memoryBytes !== defaults.memoryBytes ||
        workload.resources.cpuMillis !== defaults.cpuMillis);
    const handler = workload.env.KRT_HANDLER_PATH ?? '';
    if (own || handlers.has(handler)) continue;
    handlers.add(handler);
    members.push(workload);
  }
  if (members.length < 2) return undefined;
  const { common, own } = splitEnv(members.map((m) => m.env));
  const shared: SharedWorkloads = members.map((m, i) => ({
    id: m.id,
    program: m.program === 'entrypoint' ? 'entrypoint' : 'runner',
    env: own[i],
  }));
  const first = members[0];
  const ports = [...new Set<PortName>(members.flatMap((m) => m.ports))];
  return {
    id: SHARED_WORKLOAD,
    role: first.id === ENTRYPOINT_WORKLOAD ? 'entrypoint' : 'node',
    program: 'shared',
    members: members.map((m) => m.id),
    image: first.image,
    replicas: 1,
    gpu: false,
    resources: sumOf(members.map((m) => m.resources ?? defaults)),
    ports,
    env: { ...common, [SHARED_WORKLOADS_ENV]: JSON.stringify(shared) },
    configFiles: first.configFiles,
    labels: {},
    k8sName: '',
    // A member that changes restarts the process (and so the others: they are one process).
    specHash: createHash('sha256')
      .update(JSON.stringify(members.map((m) => [m.id, m.specHash])))
      .digest('hex')
      .slice(0, 16),
  };
}

/** What every env has with the same value, and each one's other entries. */
function splitEnv(envs: readonly Readonly<Record<string, string>>[]): {
  common: Record<string, string>;
  own: Record<string, string>[];
} {
  const common: Record<string, string> = {};
  for (const [key, value] of Object.entries(envs[0]))
    if (envs.every((env) => env[key] === value)) common[key] = value;
  const own = envs.map((env) =>
    Object.fromEntries(Object.entries(env).filter(([key]) => !(key in common))),
  );
  return { common, own };
}

/** The members' limits together; unknown (no limits) if one member's is. */
function sumOf(list: readonly (ReplicaResources | undefined)[]): ReplicaResources | undefined {
  if (list.some((r) => !r)) return undefined;
  return {
    memoryBytes: list.reduce((sum, r) => sum + r!.memoryBytes, 0),
    cpuMillis: list.reduce((sum, r) => sum + r!.cpuMillis, 0),
  };
}
