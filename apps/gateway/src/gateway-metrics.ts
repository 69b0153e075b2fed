import { Counter, Histogram, Registry } from 'prom-client';

type Labels = 'protocol' | 'runtime' | 'version' | 'code';

/**
 * The gateway's request series (docs/observability.md, "Prometheus"): per protocol, runtime,
 * version and answer code (HTTP status; gRPC status name). A runtime and version are named only
 * once the gateway knows them (a route or the runtime's keys), so a stranger's made-up paths add
 * no series: they count under `runtime=""`.
 */
export class GatewayMetrics {
  private readonly requests: Counter<Labels>;
  private readonly seconds: Histogram<Labels>;

  constructor(registry: Registry = new Registry()) {
    this.requests = new Counter({
      name: 'kre_gateway_requests_total',
      help: 'Calls through the gateway, by protocol, runtime, version and answer code',
      labelNames: ['protocol', 'runtime', 'version', 'code'],
      registers: [registry],
    });
    this.seconds = new Histogram({
      name: 'kre_gateway_request_duration_seconds',
      help: 'From the call reaching the gateway to its answer ending, by protocol, runtime, version and code',
      labelNames: ['protocol', 'runtime', 'version', 'code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
  }

  /** A call begins: fill in what becomes known, then `end()` once (later calls are ignored). */
  start(protocol: 'http' | 'grpc'): CallMeter {
    const started = process.hrtime.bigint();
    let ended = false;
    const meter: CallMeter = {
      runtime: '',
      version: '',
      code: '',
      end: () => {
        if (ended) return;
        ended = true;
        const labels = {
          protocol,
          runtime: meter.runtime,
          version: meter.version,
          code: meter.code || 'UNKNOWN',
        };
        this.requests.inc(labels);
        this.seconds.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
      },
    };
    return meter;
  }
}

export interface CallMeter {
  runtime: string;
  version: string;
  code: string;
  end(): void;
}
