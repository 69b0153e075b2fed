import {
  Controller,
  type DynamicModule,
  Get,
  Inject,
  Module,
  type Provider,
} from '@nestjs/common';
import {
  HealthCheck,
  type HealthCheckResult,
  HealthCheckService,
  HealthIndicatorService,
  TerminusModule,
} from '@nestjs/terminus';

/** One dependency an app needs to serve: `check` resolves when it is reachable. */
export interface DependencyCheck {
  readonly key: string;
  check(): Promise<unknown>;
}

const DEPENDENCY_CHECKS = Symbol('DEPENDENCY_CHECKS');
const CHECK_TIMEOUT_MS = 2_000;

@Controller()
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(DEPENDENCY_CHECKS) private readonly checks: DependencyCheck[],
  ) {}

  /** Ready: every dependency answers (503 with the failing ones otherwise). */
  @Get(['health', 'readyz'])
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check(
      this.checks.map(
        ({ key, check }) =>
          () =>
            this.indicators
              .check(key)
              .attempt(async () => {
                await check();
                return {};
              })
              .withTimeout(CHECK_TIMEOUT_MS),
      ),
    );
  }

  /** Live: the process answers. */
  @Get('livez')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }
}

/** `GET /health` (dependencies) and `GET /livez` for an HTTP app. */
@Module({})
export class HealthModule {
  /** `checks` is a provider of `DependencyCheck[]` (a factory that injects the connections). */
  static forRoot(checks: Omit<Extract<Provider, { useFactory: unknown }>, 'provide'>): DynamicModule {
    return {
      module: HealthModule,
      imports: [TerminusModule],
      controllers: [HealthController],
      providers: [{ ...checks, provide: DEPENDENCY_CHECKS }],
    };
  }
}
