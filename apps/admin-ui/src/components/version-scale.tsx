import { useEffect, useState } from 'react';
import { fieldErrors } from './field-errors.ts';

export interface Scale {
  state?: 'AWAKE' | 'SLEEPING' | 'WAKING' | null;
  replicas: number;
  idleSeconds?: number | null;
}

const STATE_TEXT = {
  AWAKE: 'Awake',
  SLEEPING: 'Asleep: the next call wakes it',
  WAKING: 'Waking up',
} as const;

/** Whether the version is awake and how many replicas run now (live: watchVersion, watchNodeStatus). */
export function ScaleStatus({ scale }: { scale: Scale }) {
  return (
    <p className="muted" data-testid="scale-state" aria-live="polite">
      {scale.state ? STATE_TEXT[scale.state] : 'Not running'} ·{' '}
      <strong>
        {scale.replicas} {scale.replicas === 1 ? 'replica' : 'replicas'}
      </strong>{' '}
      running
    </p>
  );
}

const idleText = (idleSeconds: number | null | undefined) =>
  (idleSeconds ?? null) === null
    ? 'sleeps after the installation’s default idle time without a call'
    : idleSeconds === 0
      ? 'never sleeps'
      : `sleeps after ${idleSeconds} s without a call`;

/** The comment field every scale change carries to the audit log. */
function Comment({
  id,
  value,
  onChange,
}: {
  id: string;
  value: string;
  onChange: (v: string) => void;
}) {
  return (
    <>
      <label htmlFor={id}>Comment (why; kept in the audit log)</label>
      <input id={id} value={value} onChange={(e) => onChange(e.target.value)} />
    </>
  );
}

/** A version's idle time (scale to zero); MANAGERs change it. Empty: the default; 0: never. */
export function IdleTimeForm({
  idleSeconds,
  canEdit,
  onSave,
}: {
  idleSeconds: number | null | undefined;
  canEdit: boolean;
  onSave: (idleSeconds: number | null, comment: string) => Promise<unknown>;
}) {
  const shown = idleSeconds === null || idleSeconds === undefined ? '' : String(idleSeconds);
  const [value, setValue] = useState(shown);
  // What admin-api now holds (after a save, or a change made elsewhere).
  useEffect(() => setValue(shown), [shown]);
  const [comment, setComment] = useState('');
  const [error, setError] = useState('');
  const [saved, setSaved] = useState(false);
  return (
    <section aria-labelledby="idle-title" className="panel">
      <h2 id="idle-title">Scale to zero</h2>
      <p data-testid="idle-time">This version {idleText(idleSeconds)}.</p>
      {canEdit && (
        <form
          className="inline"
          aria-label="Idle time"
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            const text = value.trim();
            if (text && (!/^\d+$/.test(text) || Number(text) > 2_592_000))
              return setError('must be a whole number of seconds (0: never sleeps), or empty');
            setError('');
            setSaved(false);
            onSave(text ? Number(text) : null, comment.trim()).then(
              () => {
                setSaved(true);
                setComment('');
              },
              (e: unknown) => {
                const refused = fieldErrors(e);
                setError(refused.fields.idleSeconds ?? refused.general);
              },
            );
          }}
        >
          <label htmlFor="idle-seconds">Idle seconds before it sleeps</label>
          <input
            id="idle-seconds"
            inputMode="numeric"
            placeholder="default"
            value={value}
            aria-invalid={Boolean(error)}
            aria-describedby={error ? 'idle-error' : undefined}
            onChange={(e) => setValue(e.target.value)}
          />
          <Comment id="idle-comment" value={comment} onChange={setComment} />
          <button type="submit" className="primary">
            Save idle time
          </button>
          {error && (
            <p id="idle-error" role="alert" className="field-error">
              Idle seconds {error}
            </p>
          )}
          {saved && (
            <p role="status" className="ok">
              Saved.
            </p>
          )}
        </form>
      )}
    </section>
  );
}

export interface ScaledNode {
  workflow: string;
  name: string;
  replicas: number;
  autoscale?: { min: number; max: number } | null;
}

/** Bounds as sent, with the comment for the audit log; both null: no autoscaling. */
export interface BoundsChange {
  min: number | null;
  max: number | null;
  comment: string;
}

export interface AutoscaleChange extends BoundsChange {
  workflowName: string;
  nodeName: string;
}

/**
 * Checks bounds as typed: both empty (no autoscaling: one replica for the entrypoint, the KRT's
 * for a node) or 1 ≤ min ≤ max.
 */
export function validateBounds(
  min: string,
  max: string,
): { min: number | null; max: number | null } | { errors: { min?: string; max?: string } } {
  if (!min.trim() && !max.trim()) return { min: null, max: null };
  const errors: { min?: string; max?: string } = {};
  const whole = (v: string) => /^\d+$/.test(v.trim());
  if (!whole(min) || Number(min) < 1) errors.min = 'must be a whole number, 1 or more';
  if (!whole(max) || Number(max) < 1) errors.max = 'must be a whole number, 1 or more';
  if (!errors.min && !errors.max && Number(max) < Number(min))
    errors.max = 'must be at least the fewest';
  return Object.keys(errors).length ? { errors } : { min: Number(min), max: Number(max) };
}

/** The entrypoint's row; no node has this id (theirs are `<workflow>.<node>`). */
const ENTRYPOINT = 'entrypoint';

/** A row of the table: the entrypoint or a node, with what clearing its bounds goes back to. */
interface Row {
  id: string;
  note?: string;
  replicas: number;
  autoscale?: { min: number; max: number } | null;
  offText: string;
  clearedTo: string;
  save: (change: BoundsChange) => Promise<unknown>;
}

/**
 * The entrypoint's replicas (one, or bounds it autoscales within on calls in flight) and each
 * node's (the KRT's count, or bounds it autoscales within on its backlog). MANAGERs set the
 * bounds (empty both: back to one replica, or the KRT's count).
 */
export function AutoscaleTable({
  entrypointAutoscale,
  nodes,
  canEdit,
  onSave,
  onSaveEntrypoint,
}: {
  entrypointAutoscale: { min: number; max: number } | null | undefined;
  nodes: readonly ScaledNode[];
  canEdit: boolean;
  onSave: (change: AutoscaleChange) => Promise<unknown>;
  onSaveEntrypoint: (change: BoundsChange) => Promise<unknown>;
}) {
  const [editing, setEditing] = useState<string | null>(null);
  const [min, setMin] = useState('');
  const [max, setMax] = useState('');
  const [comment, setComment] = useState('');
  const [errors, setErrors] = useState<{ min?: string; max?: string; general?: string }>({});
  const rows: Row[] = [
    {
      id: ENTRYPOINT,
      note: 'scaled on calls in flight',
      replicas: 1,
      autoscale: entrypointAutoscale,
      offText: 'off (one replica)',
      clearedTo: 'one replica',
      save: onSaveEntrypoint,
    },
    ...nodes.map((n) => ({
      id: `${n.workflow}.${n.name}`,
      replicas: n.replicas,
      autoscale: n.autoscale,
      offText: 'off (the KRT’s replicas)',
      clearedTo: `the KRT’s ${n.replicas}`,
      save: (change: BoundsChange) =>
        onSave({ workflowName: n.workflow, nodeName: n.name, ...change }),
    })),
  ];
  const row = rows.find((r) => r.id === editing);
  return (
    <section aria-labelledby="autoscale-title">
      <h2 id="autoscale-title">Replicas</h2>
      <table>
        <caption className="sr-only">
          The entrypoint’s and each node’s replicas and autoscale bounds
        </caption>
        <thead>
          <tr>
            <th scope="col">Workload</th>
            <th scope="col">Replicas without bounds</th>
            <th scope="col">Autoscale</th>
            {canEdit && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id} data-testid={`autoscale-${r.id}`}>
              <th scope="row" data-label="Workload">
                {r.id}
                {r.note && <span className="muted"> ({r.note})</span>}
              </th>
              <td data-label="Replicas without bounds">{r.replicas}</td>
              <td data-label="Autoscale">
                {r.autoscale
                  ? r.autoscale.min === r.autoscale.max
                    ? `fixed at ${r.autoscale.min}`
                    : `${r.autoscale.min} to ${r.autoscale.max}`
                  : r.offText}
              </td>
              {canEdit && (
                <td data-label="">
                  <button
                    type="button"
                    aria-pressed={editing === r.id}
                    onClick={() => {
                      setEditing(r.id);
                      setMin(r.autoscale ? String(r.autoscale.min) : '');
                      setMax(r.autoscale ? String(r.autoscale.max) : '');
                      setErrors({});
                    }}
                  >
                    Set bounds<span className="sr-only"> of {r.id}</span>
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {canEdit && row && (
        <form
          className="panel"
          aria-label={`Autoscale bounds of ${row.id}`}
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            const bounds = validateBounds(min, max);
            if ('errors' in bounds) return setErrors(bounds.errors);
            setErrors({});
            row.save({ ...bounds, comment: comment.trim() }).then(
              () => {
                setEditing(null);
                setComment('');
              },
              (e: unknown) => {
                const refused = fieldErrors(e);
                setErrors({
                  min: refused.fields.min,
                  max: refused.fields.max,
                  general: refused.general,
                });
              },
            );
          }}
        >
          <p className="muted">
            Empty both: back to {row.clearedTo}. Equal: a fixed count. The runtime’s quota caps the
            total.
          </p>
          <label htmlFor="autoscale-min">Fewest replicas (and the starting count)</label>
          <input
            id="autoscale-min"
            inputMode="numeric"
            value={min}
            aria-invalid={Boolean(errors.min)}
            aria-describedby={errors.min ? 'autoscale-min-error' : undefined}
            onChange={(e) => setMin(e.target.value)}
          />
          {errors.min && (
            <p id="autoscale-min-error" className="field-error">
              Fewest {errors.min}
            </p>
          )}
          <label htmlFor="autoscale-max">Most replicas</label>
          <input
            id="autoscale-max"
            inputMode="numeric"
            value={max}
            aria-invalid={Boolean(errors.max)}
            aria-describedby={errors.max ? 'autoscale-max-error' : undefined}
            onChange={(e) => setMax(e.target.value)}
          />
          {errors.max && (
            <p id="autoscale-max-error" className="field-error">
              Most {errors.max}
            </p>
          )}
          <Comment id="autoscale-comment" value={comment} onChange={setComment} />
          <div className="row">
            <button type="submit" className="primary">
              Save bounds
            </button>
            <button type="button" onClick={() => setEditing(null)}>
              Cancel
            </button>
          </div>
          {(errors.general || errors.min || errors.max) && (
            <p role="alert" className="error">
              {errors.general || 'Check the fields marked above.'}
            </p>
          )}
        </form>
      )}
    </section>
  );
}
