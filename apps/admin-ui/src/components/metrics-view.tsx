import { useQuery } from '@apollo/client/react';
import { useMemo, useState } from 'react';
import type { ResultOf } from '../graphql.ts';
import { MEASUREMENTS, METRICS, REPLICA_RESOURCES } from '../queries.ts';
import { LineChart, formatBytes, formatCores, formatMs, type ChartSeries } from './charts.tsx';
import { Empty, ErrorState, Loading, formatDate } from './states.tsx';

/** The confusion matrix as a table: rows the true class, columns the predicted, cells row %. */
export function ConfusionMatrix({
  cells,
}: {
  cells: readonly { x: string; y: string; z?: string | null }[];
}) {
  const predicted = [...new Set(cells.map((c) => c.x))];
  const truth = [...new Set(cells.map((c) => c.y))];
  const at = new Map(cells.map((c) => [`${c.y}\u0000${c.x}`, c.z ?? '']));
  return (
    <table className="matrix">
      <caption>Confusion matrix (% of each true class)</caption>
      <thead>
        <tr>
          <th scope="col">True ↓ / predicted →</th>
          {predicted.map((p) => (
            <th key={p} scope="col">
              {p}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {truth.map((t) => (
          <tr key={t}>
            <th scope="row">{t}</th>
            {predicted.map((p) => {
              const value = at.get(`${t}\u0000${p}`) ?? '';
              return (
                <td key={p} className={p === t ? 'diagonal' : ''}>
                  {value === '' ? '—' : `${value}%`}
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The ranges the page offers, with the bucket that keeps each chart at a few hundred points. */
export const RANGES = {
  '1h': { label: '1 h', ms: 3_600_000, bucket: 'MINUTE' },
  '24h': { label: '24 h', ms: 86_400_000, bucket: 'FIVE_MINUTES' },
  '7d': { label: '7 days', ms: 7 * 86_400_000, bucket: 'HOUR' },
} as const;
export type RangeKey = keyof typeof RANGES;

/** What the deployer stores a replica's samples as (apps/deployer/src/replica-usage.service.ts). */
export const REPLICA_RESOURCES_MEASUREMENT = 'kre_replica_resources';

type Point = { date: string };
const series = <P extends Point>(
  name: string,
  points: readonly P[],
  value: (p: P) => number | null | undefined,
): ChartSeries => ({ name, points: points.map((p) => ({ t: Date.parse(p.date), v: value(p) })) });

/**
 * The version's metrics over a range: classification figures and the confusion matrix; each
 * node's latency percentiles, requests and errors; each replica's CPU, memory and restarts (the
 * latest sample, and over time from `kre_replica_resources`); any custom measurement.
 */
export function MetricsView({
  runtimeId,
  versionName,
}: {
  runtimeId: string;
  versionName: string;
}) {
  const [range, setRange] = useState<RangeKey>('24h');
  const { label, ms, bucket } = RANGES[range];
  // Fixed per range: a new `from` on every render would be a new query each time.
  const from = useMemo(() => new Date(Date.now() - ms).toISOString(), [ms]);
  const { data, loading, error } = useQuery(METRICS, {
    variables: { runtimeId, versionName, from, bucket },
  });
  return (
    <section aria-label="Metrics" className="metrics">
      <form className="inline" aria-label="Metrics range" onSubmit={(e) => e.preventDefault()}>
        <label htmlFor="metrics-range">Range</label>
        <select
          id="metrics-range"
          value={range}
          onChange={(e) => setRange(e.target.value as RangeKey)}
        >
          {Object.entries(RANGES).map(([key, r]) => (
            <option key={key} value={key}>
              last {r.label}
            </option>
          ))}
        </select>
      </form>
      {loading && !data && <Loading what="the metrics" />}
      {error && <ErrorState what="the metrics" error={error} />}
      {data && <NodeMetricsView data={data} label={label} />}
      <ReplicaResourcesView
        runtimeId={runtimeId}
        versionName={versionName}
        from={from}
        bucket={bucket}
        label={label}
      />
      <CustomMeasurement
        runtimeId={runtimeId}
        versionName={versionName}
        from={from}
        bucket={bucket}
        label={label}
      />
    </section>
  );
}

type Bucket = (typeof RANGES)[RangeKey]['bucket'];

function NodeMetricsView({ data, label }: { data: ResultOf<typeof METRICS>; label: string }) {
  const nodes = data.nodeMetrics.map((n) => {
    const requests = n.points.reduce((s, p) => s + p.requests, 0);
    const errors = n.points.reduce((s, p) => s + p.errors, 0);
    const p95 = Math.max(0, ...n.points.map((p) => p.latencyP95Ms ?? 0));
    const name = n.workflowName ? `${n.workflowName}.${n.nodeName}` : n.nodeName;
    return { name, requests, errors, p95, points: n.points };
  });
  const maxRequests = Math.max(1, ...nodes.map((n) => n.requests));
  return (
    <>
      <h2>Classification (last {label})</h2>
      {data.metrics ? (
        <>
          <dl className="figures">
            <div>
              <dt>Accuracy</dt>
              <dd>{data.metrics.values.accuracy.total}%</dd>
            </div>
            <div>
              <dt>Micro</dt>
              <dd>{data.metrics.values.accuracy.micro}%</dd>
            </div>
            <div>
              <dt>Macro</dt>
              <dd>{data.metrics.values.accuracy.macro}%</dd>
            </div>
            <div>
              <dt>Weighted</dt>
              <dd>{data.metrics.values.accuracy.weighted}%</dd>
            </div>
            <div>
              <dt>Missing values</dt>
              <dd>{data.metrics.values.missing}%</dd>
            </div>
            <div>
              <dt>New labels</dt>
              <dd>{data.metrics.values.newLabels}%</dd>
            </div>
          </dl>
          <ConfusionMatrix cells={data.metrics.charts.confusionMatrix} />
        </>
      ) : (
        <Empty>No classified prediction in the last {label}.</Empty>
      )}
      <h2>Nodes (last {label})</h2>
      {nodes.length === 0 ? (
        <Empty>No request reached a node in the last {label}.</Empty>
      ) : (
        <>
          <table>
            <caption className="sr-only">Requests, errors and p95 latency per node</caption>
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col">Requests</th>
                <th scope="col">Errors</th>
                <th scope="col">p95 latency</th>
              </tr>
            </thead>
            <tbody>
              {nodes.map((n) => (
                <tr key={n.name}>
                  <th scope="row" data-label="Node">
                    {n.name}
                  </th>
                  <td data-label="Requests">
                    <meter
                      min={0}
                      max={maxRequests}
                      value={n.requests}
                      aria-label={`Requests of ${n.name}`}
                    />{' '}
                    {n.requests}
                  </td>
                  <td data-label="Errors" className={n.errors ? 'error' : ''}>
                    {n.errors}
                  </td>
                  <td data-label="p95 latency">{n.p95 ? formatMs(n.p95) : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="charts">
            {nodes.map((n) => (
              <div key={n.name} className="chart-pair">
                <LineChart
                  title={`Latency of ${n.name}`}
                  format={formatMs}
                  series={[
                    series('p50', n.points, (p) => p.latencyP50Ms),
                    series('p95', n.points, (p) => p.latencyP95Ms),
                    series('p99', n.points, (p) => p.latencyP99Ms),
                  ]}
                />
                <LineChart
                  title={`Requests and errors of ${n.name}`}
                  series={[
                    series('requests', n.points, (p) => p.requests),
                    series('errors', n.points, (p) => p.errors),
                  ]}
                />
              </div>
            ))}
          </div>
        </>
      )}
    </>
  );
}

export type ReplicaResource = ResultOf<typeof REPLICA_RESOURCES>['replicaResources'][number];

/** Each replica's latest sample: CPU, memory, restarts, where the figures come from. */
export function ReplicaResourcesTable({ replicas }: { replicas: readonly ReplicaResource[] }) {
  if (replicas.length === 0)
    return <Empty>No replica sampled in the last two minutes (the version does not run?).</Empty>;
  return (
    <table>
      <caption className="sr-only">Each replica’s latest resource sample</caption>
      <thead>
        <tr>
          <th scope="col">Workload</th>
          <th scope="col">Replica</th>
          <th scope="col">State</th>
          <th scope="col">CPU</th>
          <th scope="col">Memory</th>
          <th scope="col">Restarts</th>
          <th scope="col">Sampled</th>
        </tr>
      </thead>
      <tbody>
        {replicas.map((r) => (
          <tr key={`${r.workload}#${r.replica}`} data-testid={`replica-${r.workload}-${r.replica}`}>
            <td data-label="Workload">{r.workload}</td>
            <td data-label="Replica">{r.replica}</td>
            <td data-label="State">{r.state}</td>
            <td data-label="CPU">
              {r.cpuCores === null || r.cpuCores === undefined ? '—' : formatCores(r.cpuCores)}
            </td>
            <td data-label="Memory">
              {r.memoryBytes === null || r.memoryBytes === undefined
                ? '—'
                : formatBytes(r.memoryBytes)}
            </td>
            <td data-label="Restarts" className={r.restarts ? 'warning' : ''}>
              {r.restarts}
            </td>
            <td data-label="Sampled">
              {formatDate(r.sampledAt)} <span className="muted">({r.source})</span>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Mean and highest value of one numeric field of a measurement, per bucket. */
const fieldSeries = (
  points: ResultOf<typeof MEASUREMENTS>['measurements'],
  field: string,
  stat: 'mean' | 'max',
  name: string,
): ChartSeries => series(name, points, (p) => p.fields.find((f) => f.name === field)?.[stat]);

/** What each chart over time of a version's metrics page reads: the version and the range. */
interface RangeProps {
  runtimeId: string;
  versionName: string;
  from: string;
  bucket: Bucket;
  label: string;
}

function ReplicaResourcesView({ runtimeId, versionName, from, bucket, label }: RangeProps) {
  // The deployer samples every 15 s: so does the table.
  const latest = useQuery(REPLICA_RESOURCES, {
    variables: { runtimeId, versionName },
    pollInterval: 15_000,
  });
  const workloads = [...new Set(latest.data?.replicaResources.map((r) => r.workload) ?? [])];
  const [picked, setPicked] = useState('');
  const workload = workloads.includes(picked) ? picked : (workloads[0] ?? '');
  const overTime = useQuery(MEASUREMENTS, {
    skip: !workload,
    variables: {
      runtimeId,
      versionName,
      name: REPLICA_RESOURCES_MEASUREMENT,
      from,
      bucket,
      tags: [{ key: 'workload', value: workload }],
    },
  });
  const points = overTime.data?.measurements ?? [];
  return (
    <section aria-labelledby="resources-title">
      <h2 id="resources-title">Replicas’ resources</h2>
      {latest.loading && !latest.data && <Loading what="the replicas’ resources" />}
      {latest.error && <ErrorState what="the replicas’ resources" error={latest.error} />}
      {latest.data && <ReplicaResourcesTable replicas={latest.data.replicaResources} />}
      {workloads.length > 0 && (
        <>
          <form
            className="inline"
            aria-label="Resources over time"
            onSubmit={(e) => e.preventDefault()}
          >
            <label htmlFor="resources-workload">Over the last {label}, workload</label>
            <select
              id="resources-workload"
              value={workload}
              onChange={(e) => setPicked(e.target.value)}
            >
              {workloads.map((w) => (
                <option key={w}>{w}</option>
              ))}
            </select>
          </form>
          {overTime.error && <ErrorState what="the resources over time" error={overTime.error} />}
          {overTime.data && (
            <div className="charts">
              <LineChart
                title={`CPU of ${workload} (its replicas’ samples)`}
                format={formatCores}
                series={[
                  fieldSeries(points, 'cpuCores', 'mean', 'mean'),
                  fieldSeries(points, 'cpuCores', 'max', 'highest'),
                ]}
              />
              <LineChart
                title={`Memory of ${workload} (its replicas’ samples)`}
                format={formatBytes}
                series={[
                  fieldSeries(points, 'memoryBytes', 'mean', 'mean'),
                  fieldSeries(points, 'memoryBytes', 'max', 'highest'),
                ]}
              />
              <LineChart
                title={`Restarts of ${workload}`}
                series={[fieldSeries(points, 'restarts', 'max', 'restarts')]}
              />
            </div>
          )}
        </>
      )}
    </section>
  );
}

export interface MeasurementQuery {
  name: string;
  tags: { key: string; value: string }[];
}

/** `key=value, key=value` → tags; an error names the part that is wrong. */
export function parseTags(text: string): { tags: MeasurementQuery['tags'] } | { error: string } {
  const tags: MeasurementQuery['tags'] = [];
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const at = part.indexOf('=');
    const key = part.slice(0, at).trim();
    const value = part.slice(at + 1).trim();
    if (at < 0 || !key || !value) return { error: `“${part}” is not key=value` };
    tags.push({ key, value });
  }
  return { tags };
}

/** The name and tags of a custom measurement to chart; errors by field. */
export function MeasurementForm({ onShow }: { onShow: (query: MeasurementQuery) => void }) {
  const [name, setName] = useState('');
  const [tagText, setTagText] = useState('');
  const [errors, setErrors] = useState<{ name?: string; tags?: string }>({});
  return (
    <form
      className="inline"
      aria-label="Custom measurement"
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        const parsed = parseTags(tagText);
        const next = {
          name: name.trim() ? undefined : 'the measurement’s name is required',
          tags: 'error' in parsed ? parsed.error : undefined,
        };
        setErrors(next);
        if (!next.name && 'tags' in parsed) onShow({ name: name.trim(), tags: parsed.tags });
      }}
    >
      <label htmlFor="measurement-name">Measurement</label>
      <input
        id="measurement-name"
        value={name}
        placeholder="e.g. kre_replica_resources"
        aria-invalid={Boolean(errors.name)}
        aria-describedby={errors.name ? 'measurement-name-error' : undefined}
        onChange={(e) => setName(e.target.value)}
      />
      <label htmlFor="measurement-tags">Tags</label>
      <input
        id="measurement-tags"
        value={tagText}
        placeholder="key=value, key=value"
        aria-invalid={Boolean(errors.tags)}
        aria-describedby={errors.tags ? 'measurement-tags-error' : undefined}
        onChange={(e) => setTagText(e.target.value)}
      />
      <button type="submit">Show</button>
      {errors.name && (
        <p id="measurement-name-error" className="error" role="alert">
          Measurement: {errors.name}
        </p>
      )}
      {errors.tags && (
        <p id="measurement-tags-error" className="error" role="alert">
          Tags: {errors.tags}
        </p>
      )}
    </form>
  );
}

function CustomMeasurement({ runtimeId, versionName, from, bucket, label }: RangeProps) {
  const [query, setQuery] = useState<MeasurementQuery | null>(null);
  const { data, error, loading } = useQuery(MEASUREMENTS, {
    skip: !query,
    variables: {
      runtimeId,
      versionName,
      name: query?.name ?? '',
      from,
      bucket,
      tags: query?.tags.length ? query.tags : undefined,
    },
  });
  const points = data?.measurements ?? [];
  const fields = [...new Set(points.flatMap((p) => p.fields.map((f) => f.name)))];
  return (
    <section aria-labelledby="measurement-title">
      <h2 id="measurement-title">Custom measurement (last {label})</h2>
      <p className="muted">
        What the version’s nodes save with <code>measurement.save</code>: each numeric field’s mean
        per bucket.
      </p>
      <MeasurementForm onShow={setQuery} />
      {loading && <Loading what="the measurement" />}
      {error && <ErrorState what="the measurement" error={error} />}
      {query && data && points.length === 0 && (
        <Empty>
          No point of “{query.name}” with these tags in the last {label}.
        </Empty>
      )}
      {query && points.length > 0 && (
        <div className="charts">
          <LineChart
            title={`${query.name}: points per bucket`}
            series={[series('points', points, (p) => p.count)]}
          />
          {fields.length > 0 && (
            <LineChart
              title={`${query.name}: fields (mean)`}
              series={fields.slice(0, 6).map((f) => fieldSeries(points, f, 'mean', f))}
            />
          )}
        </div>
      )}
    </section>
  );
}
