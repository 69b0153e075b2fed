import { WorkloadLogger } from '@libs/observability/workload';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

const REFRESH_MS = 30_000;

/**
 * Which subjects of the workflow stream some consumer reads. Under interest retention a message
 * nobody reads is dropped on arrival, so the exitpoint (whose answer already went to
 * `kre-reply-to`) skips publishing its output when no node reads it. Read when the exitpoint
 * binds and every 30 s after (the deployer creates the consumers before starting the runners).
 */
export class StreamInterestTracker {
  private readonly logger = new WorkloadLogger('Runner');
  /** Filter subjects of the stream's consumers; undefined until read (then: publish always). */
  private subjects?: Set<string>;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly stream: string,
  ) {}

  /** Whether `subject` may have a reader (true while unknown). */
  has(subject: string): boolean {
    return !this.subjects || this.subjects.has(subject);
  }

  /** Lists the stream's consumers now, then every 30 s until `stop()`. */
  async refresh(): Promise<void> {
    try {
      const jsm = await jetstreamManager(this.nc, { checkAPI: false });
      const subjects = new Set<string>();
      let everything = false;
      for await (const info of jsm.consumers.list(this.stream)) {
        const { filter_subject: one, filter_subjects: many } = info.config;
        if (!one && !many?.length) everything = true;
        for (const subject of [...(one ? [one] : []), ...(many ?? [])]) {
          if (subject.includes('*') || subject.includes('>')) everything = true;
          subjects.add(subject);
        }
      }
      // A consumer of everything or of wildcards: keep publishing all.
      this.subjects = everything ? undefined : subjects;
    } catch (error) {
      this.subjects = undefined;
      this.logger.warn(
        `cannot list the consumers of ${this.stream}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (!this.timer && !this.stopped) {
      this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
      this.timer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }
}
