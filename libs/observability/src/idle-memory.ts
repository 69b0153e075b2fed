import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** What the trimmer reads and does; the process's own by default (a spec injects its own). */
export interface IdleMemoryPorts {
  /** Event-loop utilization (0..1) since the previous call. */
  busy(): number;
  /** A full garbage collection that gives memory back (V8's last-resort flavour). */
  collect(): void;
}

export interface IdleMemoryOptions {
  /** How often the loop's utilization is sampled. */
  readonly sampleMs: number;
  /** Samples in a row under `idleBelow` that make the process idle. */
  readonly idleSamples: number;
  /** Utilization under which a sample counts as idle. */
  readonly idleBelow: number;
}

export const IDLE_MEMORY_DEFAULTS: IdleMemoryOptions = {
  sampleMs: 2_000,
  idleSamples: 3,
  idleBelow: 0.05,
};

/**
 * Gives a workload's memory back once a burst of work is over (issue #16, memory after load).
 * Under load V8 grows its heap (the young generation to its maximum, the old one as it needs),
 * and an idle process allocates too little for a collection to shrink it again, so a runner
 * kept ~200 MB RSS after `bench:dataplane` at c=64 for as long as it stayed idle. This samples
 * the event loop's utilization; once it has been busy and is then idle for `idleSamples`
 * samples in a row, it runs one full collection of the memory-reducing kind (what V8 does under
 * memory pressure), then waits for the next busy spell. Never while work runs, at most once per
 * idle spell. The boot counts as a busy spell: an idle gateway kept 67 MB of heap for 37 MB used
 * until its first call.
 */
export class IdleMemoryTrimmer {
  private timer?: NodeJS.Timeout;
  private quiet = 0;
  /**
   * Work since the last collection. A process starts so: its boot (loading modules, compiling)
   * grew the heap as a burst of calls does, and that is given back once it is first idle.
   */
  private dirty = true;
  /** Collections run (tests and logs). */
  trims = 0;

  constructor(
    private readonly ports: IdleMemoryPorts = processPorts(),
    private readonly options: IdleMemoryOptions = IDLE_MEMORY_DEFAULTS,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.sample(), this.options.sampleMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One sample (the timer's; a spec calls it directly). */
  sample(): void {
    if (this.ports.busy() >= this.options.idleBelow) {
      this.dirty = true;
      this.quiet = 0;
      return;
    }
    if (!this.dirty || ++this.quiet < this.options.idleSamples) return;
    this.dirty = false;
    this.quiet = 0;
    this.trims += 1;
    this.ports.collect();
  }
}

/** This process: the loop's utilization from perf_hooks, and V8's gc() without exposing it. */
export function processPorts(): IdleMemoryPorts {
  let last = performance.eventLoopUtilization();
  let gc: ((options: object) => void) | undefined;
  return {
    busy: () => {
      const now = performance.eventLoopUtilization();
      const delta = performance.eventLoopUtilization(now, last);
      last = now;
      return delta.utilization;
    },
    collect: () => {
      if (!gc) {
        // gc() made in a throwaway context: user code in this process never sees a global gc.
        setFlagsFromString('--expose-gc');
        gc = runInNewContext('gc') as (options: object) => void;
      }
      gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    },
  };
}
