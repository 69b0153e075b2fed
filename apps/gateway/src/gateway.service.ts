import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { CLOCK, type Clock } from '@libs/core';
import {
  NATS_CONNECTION,
  bindInvocationKeys,
  openGatewayRoutes,
  wakeReplySchema,
  type WakeReply,
  type WakeRequest,
} from '@libs/messaging';
import { Names } from '@libs/naming';
import { ACTIVITY_REPORT_GAP_MS, ActivityReporter } from './activity-reporter.js';
import { GatewayAdmission, KeyUsageReporter } from './admission.js';
import { CallLimits } from './call-limits.js';
import type { GatewayEnv } from './gateway.env.js';
import { GatewayMetrics } from './gateway-metrics.js';
import { GatewayGrpcProxy } from './grpc-proxy.js';
import { runtimeHostPatterns } from './runtime-host.js';
import { GatewayHttpProxy } from './http-proxy.js';
import { InvocationKeysTable } from './invocation-keys.table.js';
import { RouteTable } from './route-table.js';
import { type ScaleToZero, WAKE_GATE_DEFAULTS, WakeGate } from './wake-gate.js';

export const GATEWAY_ENV = Symbol('GATEWAY_ENV');

/** How long a wake request waits for a deployer's answer (it answers once the job is queued). */
const WAKE_REQUEST_TIMEOUT_MS = 5_000;

/** The per-runtime and per-key limits the environment sets. */
export function callLimitsOf(env: GatewayEnv): CallLimits {
  return new CallLimits({
    runtime: {
      ratePerSecond: env.GATEWAY_RUNTIME_RATE,
      burst: env.GATEWAY_RUNTIME_BURST,
      concurrency: env.GATEWAY_RUNTIME_CONCURRENCY,
    },
    key: {
      ratePerSecond: env.GATEWAY_KEY_RATE,
      burst: env.GATEWAY_KEY_BURST,
      concurrency: env.GATEWAY_KEY_CONCURRENCY,
    },
  });
}

/** Loads and follows the routes and invocation keys, then serves HTTP and gRPC on their ports. */
@Injectable()
export class GatewayService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Gateway');
  readonly routes = new RouteTable();
  readonly keys = new InvocationKeysTable();
  private readonly http: GatewayHttpProxy;
  private readonly grpc: GatewayGrpcProxy;
  private stopping = false;
  private readonly scaleToZero: ScaleToZero;
  private activityTimer?: NodeJS.Timeout;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    private readonly names: Names,
    @Inject(CLOCK) clock: Clock,
    @Optional() registry?: Registry,
  ) {
    const admission = new GatewayAdmission(
      this.routes,
      this.keys,
      callLimitsOf(env),
      KeyUsageReporter.overNats(nc, names.invocationKeyUsedSubject()),
      clock,
    );
    const runtimeHosts = runtimeHostPatterns(env.GATEWAY_RUNTIME_HOSTS);
    const metrics = new GatewayMetrics(registry);
    const scaleToZero: ScaleToZero = {
      gate: new WakeGate(
        (runtimeId, versionName) => this.requestWake(runtimeId, versionName),
        {
          ...WAKE_GATE_DEFAULTS,
          holdMs: env.GATEWAY_WAKE_HOLD_SECONDS * 1_000,
          maxHeld: env.GATEWAY_WAKE_MAX_HELD,
        },
        clock,
      ),
      activity: ActivityReporter.overNats(nc, names.versionActivitySubject()),
      clock,
    };
    this.scaleToZero = scaleToZero;
    this.routes.onVersionChange((runtimeId, version, scale) =>
      scaleToZero.gate.routeChanged(runtimeId, version, scale),
    );
    this.http = new GatewayHttpProxy(admission, runtimeHosts, metrics, scaleToZero);
    this.grpc = new GatewayGrpcProxy(admission, runtimeHosts, metrics, scaleToZero);
  }

  /** Asks a deployer to wake a sleeping version (`<p>.svc.gateway.wake`, request/reply). */
  private async requestWake(runtimeId: string, versionName: string): Promise<WakeReply> {
    const request: WakeRequest = { runtimeId, versionName };
    const reply = await this.nc.request(this.names.wakeRequestSubject(), JSON.stringify(request), {
      timeout: WAKE_REQUEST_TIMEOUT_MS,
    });
    return wakeReplySchema.parse(reply.json());
  }

  /** Calls held now for sleeping versions (scale to zero). */
  heldCalls(): number {
    return this.scaleToZero.gate.held;
  }

  readiness(): { ready: boolean; reason: string } {
    if (this.stopping) return { ready: false, reason: 'stopping' };
    if (!this.routes.ready) return { ready: false, reason: 'routes not loaded yet' };
    if (!this.keys.ready) return { ready: false, reason: 'invocation keys not loaded yet' };
    if (!this.http.isListening || !this.grpc.isListening)
      return { ready: false, reason: 'not listening yet' };
    return { ready: true, reason: 'serving' };
  }

  async onApplicationBootstrap(): Promise<void> {
    const keys = this.keys.follow(() => bindInvocationKeys(this.nc, this.names));
    await this.routes.start(await openGatewayRoutes(this.nc, this.names));
    // Serving before the keys are readable is safe: until then every runtime is closed.
    if (!(await keys.firstAttempt))
      this.logger.warn(
        `serving with every runtime closed until admin-api creates ${this.names.invocationKeysBucket()}`,
      );
    const { activity, clock } = this.scaleToZero;
    this.activityTimer = setInterval(
      () => activity.flush(clock.now().getTime()),
      ACTIVITY_REPORT_GAP_MS,
    );
    this.activityTimer.unref();
    const { GATEWAY_HOST: host } = this.env;
    const httpPort = await this.http.listen(host, this.env.GATEWAY_HTTP_PORT);
    const grpcPort = await this.grpc.listen(host, this.env.GATEWAY_GRPC_PORT);
    this.logger.log(
      `routing HTTP on ${host}:${httpPort} and gRPC on ${host}:${grpcPort} (${this.names.gatewayBucket()}, keys ${this.names.invocationKeysBucket()})`,
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await Promise.all([this.http.stop(5_000), this.grpc.stop(5_000)]);
    clearInterval(this.activityTimer);
    if (!this.nc.isClosed()) this.scaleToZero.activity.flush(Number.MAX_SAFE_INTEGER);
    this.routes.stop();
    this.keys.stop();
  }
}
