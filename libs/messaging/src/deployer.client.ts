import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import type { Names } from '@libs/naming';
import { firstValueFrom, timeout } from 'rxjs';
import { z } from 'zod';

/** What the deployer says about itself (request/reply over the Nest NATS transport). */
export interface DeployerStatus {
  orchestrator: 'local' | 'kubernetes';
  startedAt: string;
  pid: number;
}

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
export const nodeStatusReplySchema = z.object({ replicas: z.array(workloadReplicaStatusSchema) });
export type NodeStatusReply = z.infer<typeof nodeStatusReplySchema>;

/** A request/reply message that does not have the agreed shape; the message lists every problem. */
export class InvalidRpcMessageError extends Error {
  constructor(what: string, error: z.ZodError) {
    super(
      `invalid ${what}: ${error.issues
        .map((issue) => `${issue.path.join('.') || '(message)'}: ${issue.message}`)
        .join('; ')}`,
    );
    this.name = 'InvalidRpcMessageError';
  }
}

/** @throws InvalidRpcMessageError when `payload` is not `{runtimeId, versionName}` of slugs. */
export function parseNodeStatusRequest(payload: unknown): NodeStatusRequest {
  const parsed = nodeStatusRequestSchema.safeParse(payload);
  if (!parsed.success) throw new InvalidRpcMessageError('node-status request', parsed.error);
  return parsed.data;
}

/** The deployer answered a request with an error (`{code?, message}` from its RpcException). */
export class DeployerRpcError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'DeployerRpcError';
  }
}

export const DEPLOYER_RPC = Symbol('DEPLOYER_RPC');
export const DEPLOYER_SUBJECTS = Symbol('DEPLOYER_SUBJECTS');

/** The admin API's side of the deployer's request/reply subjects. */
@Injectable()
export class DeployerClient implements OnApplicationShutdown {
  constructor(
    @Inject(DEPLOYER_RPC) private readonly client: ClientProxy,
    @Inject(DEPLOYER_SUBJECTS) private readonly subjects: DeployerSubjects,
  ) {}

  /** @throws when no deployer answers within `timeoutMs`. */
  status(timeoutMs = 2_000): Promise<DeployerStatus> {
    return firstValueFrom(
      this.client.send<DeployerStatus>(this.subjects.status, {}).pipe(timeout(timeoutMs)),
    );
  }

  /**
   * Every replica of the version's workloads, as the deployer's orchestrator reports it.
   * @throws rxjs TimeoutError when no deployer answers within `timeoutMs`; DeployerRpcError
   * when it answers with an error; InvalidRpcMessageError when the reply has another shape.
   */
  async nodeStatus(
    runtimeId: string,
    versionName: string,
    timeoutMs = 2_000,
  ): Promise<WorkloadReplicaStatus[]> {
    const request: NodeStatusRequest = { runtimeId, versionName };
    let reply: unknown;
    try {
      reply = await firstValueFrom(
        this.client.send<unknown>(this.subjects.nodeStatus, request).pipe(timeout(timeoutMs)),
      );
    } catch (error) {
      throw rpcError(error);
    }
    const parsed = nodeStatusReplySchema.safeParse(reply);
    if (!parsed.success) throw new InvalidRpcMessageError('node-status reply', parsed.error);
    return parsed.data.replicas;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }
}

/** Nest's NATS client rejects with the plain object the server's exception filter produced. */
function rpcError(error: unknown): unknown {
  if (error instanceof Error || typeof error !== 'object' || error === null) return error;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return new DeployerRpcError(
    typeof code === 'string' ? code : 'ERROR',
    typeof message === 'string' ? message : JSON.stringify(error),
  );
}
