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

export interface AutoscaleChange {
  workflowName: string;
  nodeName: string;
  min: number | null;
  max: number | null;
  comment: string;
}

/** Checks a node's bounds as typed: both empty (the KRT's replicas) or 1 ≤ min ≤ max. */
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

/**
 * Each node's replicas: the KRT's count, or the bounds the deployer autoscales within on its
 * backlog. MANAGERs set the bounds (empty both: back to the KRT's count).
 */
export function AutoscaleTable({
  nodes,
  canEdit,
  onSave,
}: {
  nodes: readonly ScaledNode[];
  canEdit: boolean;
  onSave: (change: AutoscaleChange) => Promise<unknown>;
}) {
  const [editing, setEditing] = useState<string | null>(null);
  const [min, setMin] = useState('');
  const [max, setMax] = useState('');
  const [comment, setComment] = useState('');
  const [errors, setErrors] = useState<{ min?: string; max?: string; general?: string }>({});
  const node = nodes.find((n) => `${n.workflow}.${n.name}` === editing);
  return (
    <section aria-labelledby="autoscale-title">
      <h2 id="autoscale-title">Node replicas</h2>
      <table>
        <caption className="sr-only">Each node’s replicas and autoscale bounds</caption>
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">KRT replicas</th>
            <th scope="col">Autoscale</th>
            {canEdit && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {nodes.map((n) => {
            const id = `${n.workflow}.${n.name}`;
            return (
              <tr key={id} data-testid={`autoscale-${id}`}>
                <th scope="row" data-label="Node">
                  {id}
                </th>
                <td data-label="KRT replicas">{n.replicas}</td>
                <td data-label="Autoscale">
                  {n.autoscale
                    ? n.autoscale.min === n.autoscale.max
                      ? `fixed at ${n.autoscale.min}`
                      : `${n.autoscale.min} to ${n.autoscale.max}`
                    : 'off (the KRT’s replicas)'}
                </td>
                {canEdit && (
                  <td data-label="">
                    <button
                      type="button"
                      aria-pressed={editing === id}
                      onClick={() => {
                        setEditing(id);
                        setMin(n.autoscale ? String(n.autoscale.min) : '');
                        setMax(n.autoscale ? String(n.autoscale.max) : '');
                        setErrors({});
                      }}
                    >
                      Set bounds<span className="sr-only"> of {id}</span>
                    </button>
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
      {canEdit && node && (
        <form
          className="panel"
          aria-label={`Autoscale bounds of ${editing}`}
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            const bounds = validateBounds(min, max);
            if ('errors' in bounds) return setErrors(bounds.errors);
            setErrors({});
            onSave({
              workflowName: node.workflow,
              nodeName: node.name,
              ...bounds,
              comment: comment.trim(),
            }).then(
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
            Empty both: back to the KRT’s {node.replicas}. Equal: a fixed count. The runtime’s quota
            caps the total.
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
