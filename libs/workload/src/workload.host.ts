import { performance } from 'node:perf_hooks';
import { connectNats, natsCheck, payloadLimit } from '@libs/messaging/workload';
import {
  IdleMemoryTrimmer,
  ProbeServer,
  WorkloadLogger,
  configureWorkloadLogs,
  type WorkloadLogLevel,
  tracing,
} from '@libs/observability/workload';
import type { NatsConnection } from '@nats-io/transport-node';

/** What a workload runs: started once connected, stopped at SIGTERM before NATS drains. */
export interface WorkloadService {
  start(): Promise<void>;
  /** Finishes the work in flight (messages, requests). */
  stop(): Promise<void>;
  /** Whether it serves yet, and if not why (logged, never in the probe's answer). */
  readiness(): { ready: boolean; reason: string };
}

/** The part of a workload's env (libs/config, workloadEnv) its host reads. */
export interface WorkloadHostEnv {
  LOG_LEVEL: WorkloadLogLevel;
  LOG_FORMAT: 'json' | 'text';
  KRT_NATS_SERVER: string;
  KRT_NATS_CREDS: string;
  KRT_NATS_INBOX_PREFIX: string;
  KRT_LISTEN_HOST: string;
  KRT_HEALTH_PORT: number;
}

export interface WorkloadSpec {
  /** Names its log lines (`shared`: a version's shared process, `runner shared`). */
  app: 'runner' | 'entrypoint' | 'shared';
  env: WorkloadHostEnv;
  /** The NATS connection's name, as the server shows it. */
  connectionName: string;
  /** The readiness check's key in `/readyz` (`consumers`, `servers`). */
  readinessKey: string;
  compose(nc: NatsConnection): WorkloadService;
}

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Runs a workload process without Nest (issue #16: Nest is about 30 MB of each workload's
 * memory and most of its boot): connects to NATS with the version's identity, relays its spans
 * over that connection, composes and starts the service, then serves its probes. At SIGTERM (or
 * SIGINT): the service finishes what is in flight, the spans left are exported, the probes
 * close, NATS drains, and the process ends by that signal. Throws when it cannot start.
 */
export async function runWorkload(spec: WorkloadSpec): Promise<void> {
  const { app, env } = spec;
  // Milliseconds since the process started: what a cold start waits for (issue #16).
  const loaded = performance.now();
  configureWorkloadLogs(app, env);
  const logger = new WorkloadLogger('Bootstrap');
  const nc = await connectNats({
    url: env.KRT_NATS_SERVER,
    credentials: env.KRT_NATS_CREDS,
    inboxPrefix: env.KRT_NATS_INBOX_PREFIX,
    name: spec.connectionName,
  });
  const connected = performance.now();
  // Its spans leave over this connection when tracing relays them (KRT_NATS_TRACES_SUBJECT).
  tracing().attachRelay(
    (subject, body) => nc.publish(subject, body),
    payloadLimit(nc.info?.max_payload ?? 1024 * 1024),
  );
  let service: WorkloadService | undefined;
  const probes = new ProbeServer(
    [
      natsCheck(nc),
      {
        key: spec.readinessKey,
        check: () => {
          const { ready, reason } = service?.readiness() ?? { ready: false, reason: 'starting' };
          return ready ? Promise.resolve() : Promise.reject(new Error(reason));
        },
      },
    ],
    new WorkloadLogger('Health'),
  );
  // Gives back what a burst of work grew the heap to, once the process is idle again.
  const trimmer = new IdleMemoryTrimmer();
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    trimmer.stop();
    try {
      await service?.stop();
      await tracing().shutdown();
      await probes.close();
      if (!nc.isClosed()) {
        await nc.drain();
        new WorkloadLogger('Nats').log('NATS connection drained');
      }
    } catch (error) {
      logger.warn(`stop: ${error instanceof Error ? error.message : String(error)}`);
    }
    // Ends by the signal, as an unhandled one would have (the driver tells a stop from a crash).
    for (const s of SIGNALS) process.removeAllListeners(s);
    process.kill(process.pid, signal);
  };
  for (const signal of SIGNALS) process.on(signal, (s: NodeJS.Signals) => void stop(s));
  try {
    service = spec.compose(nc);
    await service.start();
    const started = performance.now();
    const url = await probes.listen(env.KRT_LISTEN_HOST, env.KRT_HEALTH_PORT);
    trimmer.start();
    const ms = (from: number, to: number) => Math.round(to - from);
    logger.log(
      `${app} listening on ${url}, ${ms(0, performance.now())} ms after the process started ` +
        `(modules and code ${ms(0, loaded)}, NATS ${ms(loaded, connected)}, start ${ms(connected, started)})`,
    );
  } catch (error) {
    await probes.close();
    if (!nc.isClosed()) await nc.close();
    throw error;
  }
}
