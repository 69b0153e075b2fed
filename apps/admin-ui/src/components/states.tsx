import type { ReactNode } from 'react';

/** The portal's loading, error and empty states: each one says what it is about. */
export function Loading({ what }: { what: string }) {
  return (
    <p className="state" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function ErrorState({ what, error }: { what: string; error: { message: string } }) {
  return (
    <p className="state error" role="alert">
      Could not load {what}: {error.message}
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="state empty">{children}</p>;
}

/** A one-off secret (an API token, an invocation key): shown once, with a copy button. */
export function SecretOnce({
  label,
  secret,
  onDone,
}: {
  label: string;
  secret: string;
  onDone: () => void;
}) {
  return (
    <div className="secret" role="region" aria-label={label}>
      <p>
        <strong>{label}</strong>: copy it now, it is not shown again.
      </p>
      <code data-testid="secret">{secret}</code>
      <div className="row">
        <button type="button" onClick={() => void navigator.clipboard?.writeText(secret)}>
          Copy
        </button>
        <button type="button" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}

export const formatDate = (iso: string | null | undefined) =>
  iso ? new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }) : '—';
