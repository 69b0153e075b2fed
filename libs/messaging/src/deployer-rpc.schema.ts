import type { Names } from '@libs/naming';
import { z } from 'zod';
import { RpcContract } from './rpc-contract.js';
import { scaleStateSchema } from './version-scale.js';

/** The deployer's request/reply subjects (`<p>.svc.deployer.<pattern>`), for both sides. */
export interface DeployerSubjects {
  status: string;
  nodeStatus: string;
}

export function deployerSubjects(names: Names): DeployerSubjects {
  return {
    status: names.serviceSubject('deployer', 'status'),
    nodeStatus: names.serviceSubject('deployer', 'node-status'),
  };
}

// Runtime ids, version names: slugs of [a-z0-9-], starting with a letter, no `--` (docs/architecture.md).
const SLUG = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const slug = (what: string) =>
  z
    .string({ error: `must be a ${what} (a string)` })
    .max(63, `must be a ${what} of at most 63 characters`)
    .regex(SLUG, `must be a ${what}: [a-z0-9-], starting with a letter, not ending with "-"`)
    .refine((value) => !value.includes('--'), `must be a ${what} without "--"`);

/** `status` request: nothing to say. */
export const deployerStatusRequestSchema = z.strictObject({});
export type DeployerStatusRequest = z.infer<typeof deployerStatusRequestSchema>;

/** `status` reply: what the deployer says about itself. */
export const deployerStatusSchema = z.object({
  orchestrator: z.enum(['local', 'kubernetes']),
  startedAt: z.iso.datetime(),
  pid: z.number().int().positive(),
});
export type DeployerStatus = z.infer<typeof deployerStatusSchema>;

/** `node-status` request: which version's workloads. */
export const nodeStatusRequestSchema = z.strictObject({
  runtimeId: slug('runtime id'),
  versionName: slug('version name'),
});
export type NodeStatusRequest = z.infer<typeof nodeStatusRequestSchema>;

/** One replica of a version's workload, as the deployer's orchestrator driver sees it. */
export const workloadReplicaStatusSchema = z.object({
  /** `entrypoint` or `<workflow>.<node>`. */
  workloadId: z.string(),
  replica: z.number().int().nonnegative(),
  state: z.enum(['STARTING', 'RUNNING', 'RESTARTING', 'STOPPED']),
  restarts: z.number().int().nonnegative(),
  /** Why it last stopped (exit code or signal, with the tail of its log). */
  message: z.string().nullish(),
});
export type WorkloadReplicaStatus = z.infer<typeof workloadReplicaStatusSchema>;

/** `node-status` reply: every replica the orchestrator has for the version (none when it is not running). */
export const nodeStatusReplySchema = z.object({
  replicas: z.array(workloadReplicaStatusSchema),
  /** Scale to zero: whether the running version is awake, and its replicas (null: not running). */
  scale: z.object({ state: scaleStateSchema, replicas: z.number().int().nonnegative() }).nullish(),
});
export type NodeStatusReply = z.infer<typeof nodeStatusReplySchema>;

/** The deployer's request/reply patterns (Nest NATS transport), one contract each. */
export const deployerRpc = {
  status: new RpcContract('status', deployerStatusRequestSchema, deployerStatusSchema),
  nodeStatus: new RpcContract('node-status', nodeStatusRequestSchema, nodeStatusReplySchema),
} as const;
