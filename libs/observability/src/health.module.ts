import {
  Controller,
  type DynamicModule,
  Get,
  Inject,
  Logger,
  Module,
  type FactoryProvider,
} from '@nestjs/common';
import {
  HealthCheck,
  type HealthCheckResult,
  HealthCheckService,
  HealthIndicatorService,
  TerminusModule,
} from '@nestjs/terminus';
import { Registry } from 'prom-client';
import {
  MetricsController,
  MetricsServer,
  createMetricsRegistry,
  type MetricsListen,
} from './metrics.js';
import { type DependencyCheck, DependencyProber } from './dependency-probe.js';

export type { DependencyCheck } from './dependency-probe.js';

const DEPENDENCY_CHECKS = Symbol('DEPENDENCY_CHECKS');

/** `/health` (`/readyz`) and `/livez`: the statuses of the app's dependencies (DependencyProber). */
@Controller()
class HealthController {
  private readonly prober = new DependencyProber(new Logger('Health'));

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(DEPENDENCY_CHECKS) private readonly checks: DependencyCheck[],
  ) {}

  /** Ready: every dependency answers (503 with the failing ones otherwise, statuses only). */
  @Get(['health', 'readyz'])
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check(this.checks.map((dependency) => () => this.probe(dependency)));
  }

  private async probe(dependency: DependencyCheck) {
    const session = this.indicators.check(dependency.key);
    const { status, details } = await this.prober.probe(dependency);
    if (status === 'up') return session.up(details);
    return status === 'degraded' ? session.degraded() : session.down();
  }

  /** Live: the process answers. */
  @Get('livez')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }
}

/**
 * `GET /health` (dependencies), `GET /livez` and `GET /metrics` (Prometheus) for an HTTP app.
 * Global: the app's services inject its metrics `Registry` to add their series.
 */
@Module({})
export class HealthModule {
  /**
   * `checks` makes the app's `DependencyCheck[]` from injected (global) connections.
   * `metrics`: serve `/metrics` on a listener of its own instead of the app's port.
   */
  static forRoot(
    checks: {
      inject: NonNullable<FactoryProvider['inject']>;
      useFactory: (...deps: never[]) => DependencyCheck[];
    },
    metrics?: MetricsListen,
  ): DynamicModule {
    return {
      module: HealthModule,
      global: true,
      imports: [TerminusModule],
      controllers: metrics ? [HealthController] : [HealthController, MetricsController],
      providers: [
        { ...checks, provide: DEPENDENCY_CHECKS },
        { provide: Registry, useFactory: createMetricsRegistry },
        ...(metrics
          ? [
              {
                provide: MetricsServer,
                inject: [Registry],
                useFactory: (registry: Registry) => new MetricsServer(registry, metrics),
              },
            ]
          : []),
      ],
      exports: [Registry],
    };
  }
}
