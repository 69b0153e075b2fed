import type { Server } from 'node:http';
import {
  type DependencyCheck,
  type DependencyState,
  DependencyProber,
} from './dependency-probe.js';
import { createHttpServer } from './node-http.js';
import { closeWithin, listenOn } from './server-lifecycle.js';

/** The body of `/readyz`, in the shape the engine apps' `/health` has (Terminus's). */
export interface ProbeReport {
  status: 'ok' | 'degraded' | 'error';
  info: Record<string, DependencyState>;
  error: Record<string, DependencyState>;
  details: Record<string, DependencyState>;
}

/** Runs every check; `status` is `error` when a required one is down. */
async function probeAll(
  prober: DependencyProber,
  checks: readonly DependencyCheck[],
): Promise<ProbeReport> {
  const states = await Promise.all(checks.map((check) => prober.probe(check)));
  const report: ProbeReport = { status: 'ok', info: {}, error: {}, details: {} };
  checks.forEach(({ key }, i) => {
    const state = states[i];
    report.details[key] = state;
    if (state.status === 'down') report.error[key] = state;
    else report.info[key] = state;
  });
  if (Object.keys(report.error).length) report.status = 'error';
  else if (states.some((state) => state.status === 'degraded')) report.status = 'degraded';
  return report;
}

/**
 * A workload's probes on `KRT_HEALTH_PORT`, on plain `node:http` (workloads do not load Nest):
 * `GET /livez` (the process answers), `GET /readyz` and `/health` (every dependency answers:
 * 200, else 503 with the statuses only; why goes to the log, once per change). Nothing else.
 */
export class ProbeServer {
  private readonly server: Server;
  private readonly prober: DependencyProber;

  constructor(
    private readonly checks: readonly DependencyCheck[],
    logger: { log(message: string): void; warn(message: string): void },
  ) {
    this.prober = new DependencyProber(logger);
    this.server = createHttpServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      const json = (code: number, body: unknown) =>
        res
          .writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store' })
          .end(JSON.stringify(body));
      if (req.method !== 'GET') return json(405, { status: 'error', message: 'GET only' });
      if (path === '/livez') return json(200, { status: 'ok' });
      if (path !== '/readyz' && path !== '/health') return json(404, { status: 'error' });
      probeAll(this.prober, this.checks).then(
        (report) => json(report.status === 'error' ? 503 : 200, report),
        () => json(503, { status: 'error' }),
      );
    });
  }

  /** Listens on `host:port` (0: any free port); resolves with the URL. */
  async listen(host: string, port: number): Promise<string> {
    const bound = await listenOn(this.server, 'the probes', host, port);
    return `http://${host}:${bound}`;
  }

  close(): Promise<void> {
    return this.server.listening ? closeWithin(this.server, 1_000) : Promise.resolve();
  }
}
