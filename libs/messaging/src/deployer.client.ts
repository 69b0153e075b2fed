import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';

/** What the deployer says about itself (request/reply over the Nest NATS transport). */
export interface DeployerStatus {
  orchestrator: 'local' | 'kubernetes';
  startedAt: string;
  pid: number;
}

export const DEPLOYER_RPC = Symbol('DEPLOYER_RPC');
export const DEPLOYER_STATUS_SUBJECT = Symbol('DEPLOYER_STATUS_SUBJECT');

/** The admin API's side of the deployer's request/reply subjects. */
@Injectable()
export class DeployerClient implements OnApplicationShutdown {
  constructor(
    @Inject(DEPLOYER_RPC) private readonly client: ClientProxy,
    @Inject(DEPLOYER_STATUS_SUBJECT) private readonly statusSubject: string,
  ) {}

  /** @throws when no deployer answers within `timeoutMs`. */
  status(timeoutMs = 2_000): Promise<DeployerStatus> {
    return firstValueFrom(
      this.client.send<DeployerStatus>(this.statusSubject, {}).pipe(timeout(timeoutMs)),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }
}
