/** One dependency of an app: `check` resolves when it is reachable. */
export interface DependencyCheck {
  readonly key: string;
  check(): Promise<unknown>;
  /** Optional dependencies report `degraded` when down, without failing readiness. */
  readonly optional?: boolean;
  /** What `/health` shows of it when up (e.g. which isolation applied), no secrets. */
  details?(): Record<string, string>;
}

export type DependencyStatus = 'up' | 'degraded' | 'down';

export interface DependencyState {
  status: DependencyStatus;
  details?: Record<string, string>;
}

const CHECK_TIMEOUT_MS = 2_000;

/**
 * Runs dependency checks for the health probes, each within 2 s. The probes are public (no
 * sign-in), so their answer names each dependency and its status only; why a dependency is down
 * (an error text, which may carry a host, a URL or a user name) goes to the log, once per
 * change, not to every caller. Used by the engine apps' HealthModule and the workloads'
 * ProbeServer alike.
 */
export class DependencyProber {
  /** The last failure logged per dependency (absent once it is up again). */
  private readonly lastFailure = new Map<string, string>();

  constructor(
    private readonly logger: { log(message: string): void; warn(message: string): void },
  ) {}

  async probe(dependency: DependencyCheck): Promise<DependencyState> {
    const { key, optional } = dependency;
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
      const details = dependency.details?.();
      return details ? { status: 'up', details } : { status: 'up' };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (this.lastFailure.get(key) !== message) {
        this.lastFailure.set(key, message);
        this.logger.warn(`${key} is ${optional ? 'degraded' : 'down'}: ${message}`);
      }
      return { status: optional ? 'degraded' : 'down' };
    } finally {
      clearTimeout(timer);
    }
  }
}
