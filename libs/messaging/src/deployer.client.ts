import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import {
  deployerRpc,
  type DeployerStatus,
  type DeployerSubjects,
  type NodeStatusReply,
  type WorkloadReplicaStatus,
} from './deployer-rpc.schema.js';
import type { RpcContract } from './rpc-contract.js';

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

/** The admin API's side of the deployer's request/reply subjects (Nest NATS transport). */
@Injectable()
export class DeployerClient implements OnApplicationShutdown {
  constructor(
    @Inject(DEPLOYER_RPC) private readonly client: Pick<ClientProxy, 'send' | 'close'>,
    @Inject(DEPLOYER_SUBJECTS) private readonly subjects: DeployerSubjects,
  ) {}

  /**
   * What the deployer says about itself.
   * @throws as {@link DeployerClient.nodeStatus}.
   */
  status(timeoutMs = 2_000): Promise<DeployerStatus> {
    return this.call(deployerRpc.status, this.subjects.status, {}, timeoutMs);
  }

  /**
   * Every replica of the version's workloads, as the deployer's orchestrator reports it.
   * @throws InvalidRpcMessageError when the request (before it is sent) or the reply has another
   * shape; rxjs TimeoutError when no deployer answers within `timeoutMs`; DeployerRpcError when
   * it answers with an error or cannot be reached.
   */
  async nodeStatus(
    runtimeId: string,
    versionName: string,
    timeoutMs = 2_000,
  ): Promise<WorkloadReplicaStatus[]> {
    return (await this.versionStatus(runtimeId, versionName, timeoutMs)).replicas;
  }

  /**
   * The replicas, and whether the version is awake (scale to zero).
   * @throws as {@link DeployerClient.nodeStatus}.
   */
  versionStatus(
    runtimeId: string,
    versionName: string,
    timeoutMs = 2_000,
  ): Promise<NodeStatusReply> {
    return this.call(
      deployerRpc.nodeStatus,
      this.subjects.nodeStatus,
      { runtimeId, versionName },
      timeoutMs,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }

  private async call<Request, Reply>(
    contract: RpcContract<Request, Reply>,
    subject: string,
    request: Request,
    timeoutMs: number,
  ): Promise<Reply> {
    const checked = contract.parseRequest(request);
    let reply: unknown;
    try {
      reply = await firstValueFrom(
        this.client.send<unknown>(subject, checked).pipe(timeout(timeoutMs)),
      );
    } catch (error) {
      throw rpcError(error);
    }
    return contract.parseReply(reply);
  }
}

/**
 * Nest's NATS client rejects with the plain object the server's exception filter produced, and
 * with a bare string while its connection is down.
 */
function rpcError(error: unknown): unknown {
  if (error instanceof Error) return error;
  if (typeof error === 'string') return new DeployerRpcError('UNAVAILABLE', error);
  if (typeof error !== 'object' || error === null) return error;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return new DeployerRpcError(
    typeof code === 'string' ? code : 'ERROR',
    typeof message === 'string' ? message : JSON.stringify(error),
  );
}
