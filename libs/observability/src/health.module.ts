import {
  Controller,
  type DynamicModule,
  Get,
  Inject,
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

/** One dependency of an app: `check` resolves when it is reachable. */
export interface DependencyCheck {
  readonly key: string;
  check(): Promise<unknown>;
  /** Optional dependencies report `degraded` when down, without failing readiness. */
  readonly optional?: boolean;
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
      return session.up();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return optional ? session.degraded({ message }) : session.down({ message });
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

/** `GET /health` (dependencies) and `GET /livez` for an HTTP app. */
@Module({})
export class HealthModule {
  /** `checks` makes the app's `DependencyCheck[]` from injected (global) connections. */
  static forRoot(checks: {
    inject: NonNullable<FactoryProvider['inject']>;
    useFactory: (...deps: never[]) => DependencyCheck[];
  }): DynamicModule {
    return {
      module: HealthModule,
      imports: [TerminusModule],
      controllers: [HealthController],
      providers: [{ ...checks, provide: DEPENDENCY_CHECKS }],
    };
  }
}
