import { useQuery } from '@apollo/client/react';
import { useMemo } from 'react';
import { METRICS } from '../queries.ts';
import { Empty, ErrorState, Loading } from './states.tsx';

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

/** Classification metrics of the last 24 h, and each node's requests, errors and latency. */
export function MetricsView({
  runtimeId,
  versionName,
}: {
  runtimeId: string;
  versionName: string;
}) {
  const from = useMemo(() => new Date(Date.now() - 86_400_000).toISOString(), []);
  const { data, loading, error } = useQuery(METRICS, {
    variables: { runtimeId, versionName, from },
  });
  if (loading && !data) return <Loading what="the metrics" />;
  if (error || !data)
    return <ErrorState what="the metrics" error={error ?? new Error('no data')} />;
  const nodes = data.nodeMetrics.map((n) => {
    const requests = n.points.reduce((s, p) => s + p.requests, 0);
    const errors = n.points.reduce((s, p) => s + p.errors, 0);
    const p95 = Math.max(0, ...n.points.map((p) => p.latencyP95Ms ?? 0));
    return { name: n.nodeName, requests, errors, p95 };
  });
  const maxRequests = Math.max(1, ...nodes.map((n) => n.requests));
  return (
    <section aria-label="Metrics" className="metrics">
      <h2>Classification (last 24 h)</h2>
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
        <Empty>No classified prediction in the last 24 h.</Empty>
      )}
      <h2>Nodes (last 24 h)</h2>
      {nodes.length === 0 ? (
        <Empty>No request reached a node in the last 24 h.</Empty>
      ) : (
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
                <th scope="row">{n.name}</th>
                <td>
                  <meter
                    min={0}
                    max={maxRequests}
                    value={n.requests}
                    aria-label={`Requests of ${n.name}`}
                  />{' '}
                  {n.requests}
                </td>
                <td className={n.errors ? 'error' : ''}>{n.errors}</td>
                <td>{n.p95 ? `${n.p95.toFixed(1)} ms` : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
