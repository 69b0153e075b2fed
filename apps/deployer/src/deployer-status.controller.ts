import { Controller, type Type } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import type { DeployerStatus } from '@libs/messaging';

/**
 * Request/reply over the Nest NATS transport: the admin API asks the deployer how it is.
 * The subject carries the installation prefix, known only at run time, so the controller
 * class is made per app instance.
 */
export function deployerStatusController(subject: string, status: () => DeployerStatus): Type {
  @Controller()
  class DeployerStatusController {
    @MessagePattern(subject)
    status(): DeployerStatus {
      return status();
    }
  }
  return DeployerStatusController;
}
