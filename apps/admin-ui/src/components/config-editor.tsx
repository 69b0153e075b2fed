import { useState } from 'react';

export interface ConfigVar {
  key: string;
  type: string;
  isSet: boolean;
  value?: string | null;
}

const RUNNING = new Set(['STARTING', 'STARTED', 'PUBLISHED']);

/**
 * A version's config variables and files. VIEWERs (`canEdit` false) see keys and whether each is
 * set, never a value (admin-api sends none). Saving a change to a running version asks first: it
 * rolls the version's workloads onto the new values.
 */
export function ConfigEditor({
  vars,
  status,
  canEdit,
  onSave,
}: {
  vars: readonly ConfigVar[];
  status: string;
  canEdit: boolean;
  onSave: (changes: { key: string; value: string }[]) => Promise<unknown>;
}) {
  const [draft, setDraft] = useState<Record<string, string>>({});
  const [confirming, setConfirming] = useState(false);
  const [saving, setSaving] = useState(false);
  const [failure, setFailure] = useState('');
  const [saved, setSaved] = useState(false);
  const changes = Object.entries(draft)
    .filter(([key, value]) => value !== (vars.find((v) => v.key === key)?.value ?? ''))
    .map(([key, value]) => ({ key, value }));
  const running = RUNNING.has(status);

  const save = () => {
    setConfirming(false);
    setSaving(true);
    setFailure('');
    onSave(changes).then(
      () => {
        setDraft({});
        setSaved(true);
        setSaving(false);
      },
      (error: Error) => {
        setFailure(error.message);
        setSaving(false);
      },
    );
  };

  if (vars.length === 0) return <p className="state empty">This version has no config variable.</p>;
  return (
    <form
      className="config"
      aria-label="Configuration"
      onSubmit={(event) => {
        event.preventDefault();
        if (changes.length === 0) return;
        if (running) setConfirming(true);
        else save();
      }}
    >
      {!canEdit && (
        <p className="muted" data-testid="values-hidden">
          Values are hidden: your role in this runtime is VIEWER.
        </p>
      )}
      {vars.map((v) => {
        const id = `config-${v.key}`;
        const value = draft[v.key] ?? v.value ?? '';
        return (
          <div key={v.key} className="field">
            <label htmlFor={id}>
              {v.key}{' '}
              <span className="muted">
                ({v.type === 'FILE' ? 'file' : 'variable'}, {v.isSet ? 'set' : 'not set'})
              </span>
            </label>
            {!canEdit ? (
              <output id={id} className="hidden-value">
                {v.isSet ? '••••••' : 'not set'}
              </output>
            ) : v.type === 'FILE' ? (
              <textarea
                id={id}
                value={value}
                rows={4}
                onChange={(event) => {
                  setSaved(false);
                  setDraft({ ...draft, [v.key]: event.target.value });
                }}
              />
            ) : (
              <input
                id={id}
                value={value}
                onChange={(event) => {
                  setSaved(false);
                  setDraft({ ...draft, [v.key]: event.target.value });
                }}
              />
            )}
          </div>
        );
      })}
      {canEdit && (
        <button type="submit" className="primary" disabled={changes.length === 0 || saving}>
          {saving
            ? 'Saving…'
            : `Save ${changes.length || ''} change${changes.length === 1 ? '' : 's'}`.replace(
                '  ',
                ' ',
              )}
        </button>
      )}
      {confirming && (
        <div role="alertdialog" aria-labelledby="restart-warning" className="confirm">
          <p id="restart-warning">
            The version is {status}: saving restarts its workloads with the new values. Save anyway?
          </p>
          <button type="button" className="primary" onClick={save} autoFocus>
            Save and restart
          </button>
          <button type="button" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      )}
      {saved && <p role="status">Saved.</p>}
      {failure && (
        <p role="alert" className="error">
          Could not save: {failure}
        </p>
      )}
    </form>
  );
}
