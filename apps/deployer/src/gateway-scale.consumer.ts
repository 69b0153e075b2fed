import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  NATS_CONNECTION,
  describeIssues,
  versionActivitySchema,
  wakeRequestSchema,
  type WakeReply,
} from '@libs/messaging';
import { Names } from '@libs/naming';
import { EntrypointLoad } from './entrypoint-load.js';
import { VersionScaleService } from './version-scale.service.js';

/**
 * What gateways tell the deployer about scale to zero (docs/lifecycle.md, "Sleep and wake"):
 * their activity reports (`<p>.svc.gateway.activity`, every deployer hears them all) restart a
 * version's idle clock and give its calls in flight (entrypoint autoscaling); a wake request (`<p>.svc.gateway.wake`, one deployer of the queue group
 * takes it) queues a wake job and is answered once it is queued, or with why not.
 */
@Injectable()
export class GatewayScaleConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(GatewayScaleConsumer.name);
  private readonly subscriptions: Subscription[] = [];

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    private readonly names: Names,
    private readonly scale: VersionScaleService,
    private readonly entrypointLoad: EntrypointLoad,
  ) {}

  onApplicationBootstrap(): void {
    this.subscriptions.push(
      this.nc.subscribe(this.names.versionActivitySubject(), {
        callback: (error, msg) => {
          if (!error) this.onActivity(msg);
        },
      }),
      this.nc.subscribe(this.names.wakeRequestSubject(), {
        queue: 'deployer',
        callback: (error, msg) => {
          if (!error) void this.onWakeRequest(msg);
        },
      }),
    );
  }

  beforeApplicationShutdown(): void {
    if (!this.nc.isClosed()) for (const s of this.subscriptions) s.unsubscribe();
  }

  private onActivity(msg: Msg): void {
    let json: unknown;
    try {
      json = msg.json();
    } catch {
      return this.logger.warn('ignored an activity report that is not JSON');
    }
    const parsed = versionActivitySchema.safeParse(json);
    if (!parsed.success)
      return this.logger.warn(`ignored an activity report: ${describeIssues(parsed.error)}`);
    this.scale.called(parsed.data);
    this.entrypointLoad.record(parsed.data);
  }

  private async onWakeRequest(msg: Msg): Promise<void> {
    const answer = (reply: WakeReply) => {
      if (msg.reply) msg.respond(JSON.stringify(reply));
    };
    let json: unknown;
    try {
      json = msg.json();
    } catch {
      return answer({ queued: false, message: 'the request is not JSON' });
    }
    const parsed = wakeRequestSchema.safeParse(json);
    if (!parsed.success) return answer({ queued: false, message: describeIssues(parsed.error) });
    answer(await this.scale.requestWake(parsed.data));
  }
}
