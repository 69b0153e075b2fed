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

/** One dependency of an app: `check` resolves when it is reachable. */
export interface DependencyCheck {
  readonly key: string;
  check(): Promise<unknown>;
  /** Optional dependencies report `degraded` when down, without failing readiness. */
  readonly optional?: boolean;
  /** What `/health` shows of it when up (e.g. which isolation applied), no secrets. */
  details?(): Record<string, string>;
}

const DEPENDENCY_CHECKS = Symbol('DEPENDENCY_CHECKS');
const CHECK_TIMEOUT_MS = 2_000;

/**
 * The probes are public (no sign-in), so their answer names each dependency and its status only;
 * why a dependency is down (an error text, which may carry a host, a URL or a user name) goes to
 * the log, once per change, not to every caller.
 */
@Controller()
class HealthController {
  private readonly logger = new Logger('Health');
  /** The last failure logged per dependency (`undefined` once it is up again). */
  private readonly lastFailure = new Map<string, string>();

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
    const { key, optional } = dependency;
    const session = this.indicators.check(key);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        dependency.check(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)),
            CHECK_TIMEOUT_MS,
          );
        }),
      ]);
      if (this.lastFailure.delete(key)) this.logger.log(`${key} is up again`);
      return session.up(dependency.details?.());
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (this.lastFailure.get(key) !== message) {
        this.lastFailure.set(key, message);
        this.logger.warn(`${key} is ${optional ? 'degraded' : 'down'}: ${message}`);
      }
      return optional ? session.degraded() : session.down();
    } finally {
      clearTimeout(timer);
    }
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
