import { Controller, Inject, Logger, Optional, type Type } from '@nestjs/common';
import { MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import {
  RpcRequestPipe,
  deployerRpc,
  rpcReply,
  type NodeStatusReply,
  type NodeStatusRequest,
  type RpcErrorPayload,
} from '@libs/messaging';
import type { OrchestratorDriver } from '@libs/orchestrator';
import { ORCHESTRATOR_DRIVER } from './orchestrator.provider.js';
import { VersionScaleService } from './version-scale.service.js';

/**
 * Request/reply over the Nest NATS transport: the admin API (watchNodeStatus) asks how the
 * replicas of a version's workloads are doing; the orchestrator driver answers. The subject
 * carries the installation prefix, known only at run time, so the class is made per app.
 */
export function nodeStatusController(subject: string): Type {
  @Controller()
  class NodeStatusController {
    private readonly logger = new Logger('NodeStatusController');

    constructor(
      @Inject(ORCHESTRATOR_DRIVER) private readonly driver: OrchestratorDriver,
      @Optional() private readonly scale?: VersionScaleService,
    ) {}

    @MessagePattern(subject)
    async nodeStatus(
      @Payload(new RpcRequestPipe(deployerRpc.nodeStatus)) request: NodeStatusRequest,
    ): Promise<NodeStatusReply> {
      let replicas;
      let scale;
      try {
        replicas = await this.driver.status(request.runtimeId, request.versionName);
        scale = await this.scale?.stateOf(request.runtimeId, request.versionName);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        this.logger.warn(
          `node status of ${request.runtimeId}/${request.versionName} failed: ${message}`,
        );
        throw new RpcException({
          code: 'ORCHESTRATOR_ERROR',
          message,
        } satisfies RpcErrorPayload);
      }
      // The pid stays here: it means nothing outside this machine.
      return rpcReply(deployerRpc.nodeStatus, {
        replicas: replicas.map((r) => ({
          workloadId: r.workloadId,
          replica: r.replica,
          state: r.state,
          restarts: r.restarts,
          message: r.message ?? null,
        })),
        // Scale to zero: whether it is awake, and the replicas that run (or start) now; left
        // out while the version does not run.
        ...(scale
          ? {
              scale: {
                state: scale.state,
                replicas: replicas.filter((r) => r.state !== 'STOPPED').length,
              },
            }
          : {}),
      });
    }
  }
  return NodeStatusController;
}
