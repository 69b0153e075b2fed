import { useState } from 'react';

export type VersionAction = 'start' | 'stop' | 'publish' | 'unpublish' | 'delete';

const LABELS: Record<VersionAction, string> = {
  start: 'Start',
  stop: 'Stop',
  publish: 'Publish',
  unpublish: 'Unpublish',
  delete: 'Delete',
};

/** What each status allows (admin-api refuses the rest: these only hide dead buttons). */
export function allowedActions(status: string, configCompleted: boolean): VersionAction[] {
  switch (status) {
    case 'CREATED':
    case 'STOPPED':
    case 'ERROR':
      return configCompleted ? ['start', 'delete'] : ['delete'];
    case 'STARTED':
      return ['publish', 'stop'];
    case 'PUBLISHED':
      return ['unpublish'];
    case 'STARTING':
      return ['stop'];
    default:
      return [];
  }
}

/**
 * The version's actions, each with a required comment (it goes to the audit log). Publishing
 * warns when another version is published: it takes that one's place.
 */
export function VersionActions({
  status,
  configCompleted,
  publishedVersion,
  versionName,
  onAction,
}: {
  status: string;
  configCompleted: boolean;
  publishedVersion: string | null | undefined;
  versionName: string;
  onAction: (action: VersionAction, comment: string) => Promise<unknown>;
}) {
  const [action, setAction] = useState<VersionAction | null>(null);
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState('');
  const actions = allowedActions(status, configCompleted);
  const replacing = publishedVersion && publishedVersion !== versionName ? publishedVersion : null;
  return (
    <section className="actions" aria-label="Version actions">
      <div className="row">
        {actions.map((a) => (
          <button
            key={a}
            type="button"
            className={a === 'delete' ? 'danger' : ''}
            aria-pressed={action === a}
            onClick={() => {
              setAction(a);
              setFailure('');
            }}
          >
            {LABELS[a]}
          </button>
        ))}
        {actions.length === 0 && (
          <span className="muted">No action while the version is {status}.</span>
        )}
        {!configCompleted && ['CREATED', 'STOPPED', 'ERROR'].includes(status) && (
          <span className="muted">Set every config value to start it.</span>
        )}
      </div>
      {action && (
        <form
          className="panel"
          aria-label={`${LABELS[action]} the version`}
          onSubmit={(event) => {
            event.preventDefault();
            if (!comment.trim()) return;
            setBusy(true);
            onAction(action, comment.trim()).then(
              () => {
                setBusy(false);
                setAction(null);
                setComment('');
              },
              (error: Error) => {
                setBusy(false);
                setFailure(error.message);
              },
            );
          }}
        >
          {action === 'publish' && replacing && (
            <p role="alert" className="warning">
              Version <strong>{replacing}</strong> is published now: publishing {versionName} takes
              its place, and {replacing} goes back to STARTED.
            </p>
          )}
          {action === 'delete' && (
            <p className="warning">Deleting removes the version and its KRT for good.</p>
          )}
          <label htmlFor="action-comment">Comment (why; kept in the audit log)</label>
          <textarea
            id="action-comment"
            required
            value={comment}
            onChange={(e) => setComment(e.target.value)}
          />
          <div className="row">
            <button
              type="submit"
              className={action === 'delete' ? 'danger' : 'primary'}
              disabled={busy || !comment.trim()}
            >
              {busy ? 'Working…' : `${LABELS[action]} ${versionName}`}
            </button>
            <button type="button" onClick={() => setAction(null)}>
              Cancel
            </button>
          </div>
          {failure && (
            <p role="alert" className="error">
              {failure}
            </p>
          )}
        </form>
      )}
    </section>
  );
}
