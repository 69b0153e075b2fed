import { Controller, type Type } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  RpcRequestPipe,
  deployerRpc,
  rpcReply,
  type DeployerStatus,
  type DeployerStatusRequest,
} from '@libs/messaging';

/**
 * Request/reply over the Nest NATS transport: the admin API asks the deployer how it is.
 * The subject carries the installation prefix, known only at run time, so the controller
 * class is made per app instance.
 */
export function deployerStatusController(subject: string, status: () => DeployerStatus): Type {
  @Controller()
  class DeployerStatusController {
    @MessagePattern(subject)
    status(
      @Payload(new RpcRequestPipe(deployerRpc.status)) _request: DeployerStatusRequest,
    ): DeployerStatus {
      return rpcReply(deployerRpc.status, status());
    }
  }
  return DeployerStatusController;
}
