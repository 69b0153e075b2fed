import { useEffect, useState } from 'react';
import type { ResultOf } from '../graphql.ts';
import type { RUNTIME } from '../queries.ts';
import { fieldErrors } from './field-errors.ts';
import { formatDate } from './states.tsx';

export type Quota = ResultOf<typeof RUNTIME>['runtime']['quota'];
type QuotaKey = Exclude<keyof Quota, '__typename'>;

/**
 * The quota's fields as the panel shows and edits them. A new field of RuntimeQuota is one entry
 * here (and one line in the RUNTIME query): `setRuntimeQuota` takes every field at once, so the
 * typecheck fails until it is added.
 */
export const QUOTA_FIELDS: readonly {
  key: QuotaKey;
  label: string;
  kind: 'count' | 'quantity' | 'duration';
  hint: string;
}[] = [
  {
    key: 'replicas',
    label: 'Replicas',
    kind: 'count',
    hint: 'each version’s entrypoint counts one',
  },
  { key: 'cpu', label: 'CPU', kind: 'quantity', hint: 'sum of CPU limits, e.g. 8, 0.5 or 500m' },
  { key: 'memory', label: 'Memory', kind: 'quantity', hint: 'sum of memory limits, e.g. 32Gi' },
  { key: 'gpus', label: 'GPUs', kind: 'count', hint: 'one per replica of a gpu node' },
  { key: 'storage', label: 'Storage', kind: 'quantity', hint: 'JetStream storage, e.g. 16Gi' },
  {
    key: 'observabilityStorage',
    label: 'Observability storage',
    kind: 'quantity',
    hint: 'records waiting to be stored, e.g. 1Gi (past it the oldest are dropped)',
  },
  {
    key: 'observabilityMaxAge',
    label: 'Observability max age',
    kind: 'duration',
    hint: 'how long a record may wait to be stored, e.g. 7d, 36h or 90m',
  },
];

/** A duration as admin-api takes it: one whole number and one unit (`7d`, `36h`, `90m`, `30s`). */
const DURATION = /^\d+[dhms]$/;

/** Kubernetes quantities as admin-api takes them (`8`, `0.5`, `500m`, `32Gi`, `1e3`). */
const QUANTITY = /^\d+(\.\d+)?([eE]\d+|m|k|Ki|Mi|Gi|Ti|Pi|Ei|M|G|T|P|E)?$/;

/** Checks the form's values; the errors by field, as admin-api would name them. */
export function validateQuota(values: Record<QuotaKey, string>): Partial<Record<QuotaKey, string>> {
  const errors: Partial<Record<QuotaKey, string>> = {};
  for (const f of QUOTA_FIELDS) {
    const value = values[f.key].trim();
    if (!value) errors[f.key] = 'is required';
    else if (f.kind === 'count' && !/^\d+$/.test(value))
      errors[f.key] = 'must be a whole number, 0 or more';
    else if (f.kind === 'quantity' && !QUANTITY.test(value))
      errors[f.key] = `must be a quantity (${f.hint.replace(/^.*e\.g\. /, 'e.g. ')})`;
    else if (f.kind === 'duration' && !DURATION.test(value))
      errors[f.key] = `must be a duration (${f.hint.replace(/^.*e\.g\. /, 'e.g. ')})`;
  }
  return errors;
}

export type QuotaInput = { [K in QuotaKey]: Quota[K] } & { comment: string };

/**
 * A runtime's quota, and what its running versions hold now (replicas: the only use the API
 * reports). Platform admins edit it: every field at once, with a comment for the audit log;
 * refusals are shown by field.
 */
export function QuotaPanel({
  quota,
  replicasInUse,
  canEdit,
  onSave,
}: {
  quota: Quota;
  replicasInUse: number | null;
  canEdit: boolean;
  onSave: (input: QuotaInput) => Promise<unknown>;
}) {
  const initial = () =>
    Object.fromEntries(QUOTA_FIELDS.map((f) => [f.key, String(quota[f.key])])) as Record<
      QuotaKey,
      string
    >;
  const [editing, setEditing] = useState(false);
  const [values, setValues] = useState(initial);
  const [comment, setComment] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState('');
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const known = new Set<string>(QUOTA_FIELDS.map((f) => f.key));
  // A field admin-api added that this list does not know yet: still shown.
  const extra = Object.entries(quota).filter(([k]) => k !== '__typename' && !known.has(k));
  return (
    <section aria-labelledby="quota-title" className="panel">
      <h2 id="quota-title">Quota</h2>
      <dl className="quota-grid" data-testid="quota">
        {QUOTA_FIELDS.map((f) => (
          <div key={f.key}>
            <dt>{f.label}</dt>
            <dd data-testid={`quota-${f.key}`}>
              {f.key === 'replicas' && replicasInUse !== null
                ? `${replicasInUse} of ${quota.replicas} in use`
                : String(quota[f.key])}
            </dd>
          </div>
        ))}
        {extra.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{String(v)}</dd>
          </div>
        ))}
      </dl>
      <p className="muted">
        What the runtime’s started versions may hold at once; a start over it is refused.
      </p>
      {saved && !editing && (
        <p role="status" className="ok">
          Quota saved.
        </p>
      )}
      {canEdit && !editing && (
        <button
          type="button"
          onClick={() => {
            setValues(initial());
            setErrors({});
            setGeneral('');
            setSaved(false);
            setEditing(true);
          }}
        >
          Edit quota
        </button>
      )}
      {canEdit && editing && (
        <form
          aria-label="Edit the quota"
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            const found: Record<string, string> = { ...validateQuota(values) };
            if (!comment.trim()) found.comment = 'is required (why: kept in the audit log)';
            setErrors(found);
            setGeneral('');
            if (Object.keys(found).length) return;
            const input = Object.fromEntries(
              QUOTA_FIELDS.map((f) => [
                f.key,
                f.kind === 'count' ? Number(values[f.key]) : values[f.key].trim(),
              ]),
            ) as Omit<QuotaInput, 'comment'>;
            setBusy(true);
            onSave({ ...input, comment: comment.trim() }).then(
              () => {
                setBusy(false);
                setEditing(false);
                setComment('');
                setSaved(true);
              },
              (error: unknown) => {
                setBusy(false);
                const refused = fieldErrors(error);
                setErrors(refused.fields);
                setGeneral(refused.general);
              },
            );
          }}
        >
          {QUOTA_FIELDS.map((f) => (
            <div key={f.key} className="field">
              <label htmlFor={`quota-input-${f.key}`}>
                {f.label} <span className="muted">({f.hint})</span>
              </label>
              <input
                id={`quota-input-${f.key}`}
                inputMode={f.kind === 'count' ? 'numeric' : 'text'}
                value={values[f.key]}
                aria-invalid={Boolean(errors[f.key])}
                aria-describedby={errors[f.key] ? `quota-error-${f.key}` : undefined}
                onChange={(e) => setValues((v) => ({ ...v, [f.key]: e.target.value }))}
              />
              {errors[f.key] && (
                <p id={`quota-error-${f.key}`} className="field-error">
                  {f.label} {errors[f.key]}
                </p>
              )}
            </div>
          ))}
          <label htmlFor="quota-comment">Comment (why; kept in the audit log)</label>
          <textarea
            id="quota-comment"
            value={comment}
            aria-invalid={Boolean(errors.comment)}
            aria-describedby={errors.comment ? 'quota-error-comment' : undefined}
            onChange={(e) => setComment(e.target.value)}
          />
          {errors.comment && (
            <p id="quota-error-comment" className="field-error">
              Comment {errors.comment}
            </p>
          )}
          <div className="row">
            <button type="submit" className="primary" disabled={busy}>
              {busy ? 'Saving…' : 'Save quota'}
            </button>
            <button type="button" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
          {(general || Object.keys(errors).length > 0) && (
            <p role="alert" className="error">
              {general || 'Check the fields marked above.'}
            </p>
          )}
        </form>
      )}
    </section>
  );
}

export interface Retention {
  days: number;
  isDefault: boolean;
  updatedAt?: string | null;
}

/** How many days of logs, metrics and measurements are kept; the runtime's ADMINs change it. */
export function RetentionForm({
  retention,
  canEdit,
  onSave,
}: {
  retention: Retention;
  canEdit: boolean;
  onSave: (days: number | null) => Promise<unknown>;
}) {
  const [days, setDays] = useState(String(retention.days));
  const [error, setError] = useState('');
  const [saved, setSaved] = useState('');
  // What admin-api now keeps (e.g. the default's days, after going back to it).
  useEffect(() => setDays(String(retention.days)), [retention.days]);
  const save = (value: number | null) => {
    setError('');
    setSaved('');
    onSave(value).then(
      () => setSaved(value === null ? 'Back to the installation’s default.' : 'Saved.'),
      (e: unknown) => {
        const refused = fieldErrors(e);
        setError(refused.fields.days ?? refused.general);
      },
    );
  };
  return (
    <section aria-labelledby="retention-title" className="panel">
      <h2 id="retention-title">Observability retention</h2>
      <p data-testid="retention">
        Logs, metrics, predictions and measurements are kept <strong>{retention.days} days</strong>
        {retention.isDefault ? ' (the installation’s default)' : ''}
        {retention.updatedAt ? `; set ${formatDate(retention.updatedAt)}` : ''}.
      </p>
      {canEdit && (
        <form
          className="inline"
          aria-label="Change the retention"
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            const value = Number(days);
            if (!/^\d+$/.test(days.trim()) || value < 1 || value > 365)
              return setError('must be a whole number of days from 1 to 365');
            save(value);
          }}
        >
          <label htmlFor="retention-days">Days kept</label>
          <input
            id="retention-days"
            inputMode="numeric"
            value={days}
            aria-invalid={Boolean(error)}
            aria-describedby={error ? 'retention-error' : undefined}
            onChange={(e) => setDays(e.target.value)}
          />
          <button type="submit" className="primary">
            Save retention
          </button>
          {!retention.isDefault && (
            <button type="button" onClick={() => save(null)}>
              Use the default
            </button>
          )}
          {error && (
            <p id="retention-error" role="alert" className="field-error">
              Days kept {error}
            </p>
          )}
          {saved && (
            <p role="status" className="ok">
              {saved}
            </p>
          )}
        </form>
      )}
    </section>
  );
}

/** Whether calls need an invocation key (the runtime's ADMINs switch it). */
export function InvocationKeySetting({
  required,
  canEdit,
  onChange,
}: {
  required: boolean;
  canEdit: boolean;
  onChange: (required: boolean) => Promise<unknown>;
}) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  return (
    <section aria-labelledby="access-title" className="panel">
      <h2 id="access-title">Access</h2>
      <p data-testid="require-key">
        {required
          ? 'The gateway refuses calls without one of the runtime’s invocation keys.'
          : 'Anyone who reaches the gateway may call the runtime: no invocation key needed.'}
      </p>
      {canEdit && (
        <button
          type="button"
          disabled={busy}
          onClick={() => {
            if (
              !required &&
              !window.confirm(
                'Require an invocation key? Callers without one are refused within seconds.',
              )
            )
              return;
            if (required && !window.confirm('Let anyone call the runtime without a key?')) return;
            setBusy(true);
            setError('');
            onChange(!required).then(
              () => setBusy(false),
              (e: unknown) => {
                setBusy(false);
                setError(fieldErrors(e).general);
              },
            );
          }}
        >
          {required ? 'Stop requiring an invocation key' : 'Require an invocation key'}
        </button>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </section>
  );
}
