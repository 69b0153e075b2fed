import { useState } from 'react';
import { RestError } from '../rest.ts';

/** A code as the kre command shows it: 8 consonants, `BCDF-GHJK` (case and dashes ignored). */
export function normalizeCode(typed: string): string | null {
  const letters = typed.toUpperCase().replace(/[^A-Z]/g, '');
  return /^[BCDFGHJKLMNPQRSTVWXZ]{8}$/.test(letters)
    ? `${letters.slice(0, 4)}-${letters.slice(4)}`
    : null;
}

type Outcome =
  | { kind: 'approved'; email: string }
  | { kind: 'malformed' }
  | { kind: 'unknown' }
  | { kind: 'refused'; message: string };

/**
 * Approves a `kre login --email` from this signed-in browser: the code the command shows signs
 * that command in as this account (admin-api refuses a code asked for another account). admin-api
 * answers a mistyped, expired or used code alike (`INVALID_OR_EXPIRED_LINK`): so does this page.
 */
export function CliLoginApprove({
  email,
  approve,
}: {
  email: string;
  approve: (userCode: string) => Promise<{ email: string }>;
}) {
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  return (
    <section aria-labelledby="cli-login-title" className="panel">
      <h2 id="cli-login-title">Sign in the kre command</h2>
      <p>
        Ran <code>kre login --email {email}</code>? Type the code it shows to sign it in as{' '}
        <strong data-testid="cli-login-account">{email}</strong>.
      </p>
      {outcome?.kind === 'approved' ? (
        <p role="status" className="ok" data-testid="cli-login-result">
          Approved: the kre command is signed in as {outcome.email}. Go back to your terminal.
        </p>
      ) : (
        <form
          className="inline"
          aria-label="Approve a kre login"
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            const normalized = normalizeCode(code);
            if (!normalized) return setOutcome({ kind: 'malformed' });
            setBusy(true);
            setOutcome(null);
            approve(normalized).then(
              (answer) => {
                setBusy(false);
                setCode('');
                setOutcome({ kind: 'approved', email: answer.email });
              },
              (error: unknown) => {
                setBusy(false);
                if (error instanceof RestError && error.body.code === 'INVALID_OR_EXPIRED_LINK')
                  setOutcome({ kind: 'unknown' });
                else
                  setOutcome({
                    kind: 'refused',
                    message: error instanceof Error ? error.message : String(error),
                  });
              },
            );
          }}
        >
          <label htmlFor="cli-login-code">Code from the terminal</label>
          <input
            id="cli-login-code"
            autoComplete="off"
            autoCapitalize="characters"
            spellCheck={false}
            placeholder="BCDF-GHJK"
            value={code}
            aria-invalid={outcome?.kind === 'malformed' || outcome?.kind === 'unknown'}
            aria-describedby={outcome ? 'cli-login-error' : undefined}
            onChange={(e) => setCode(e.target.value)}
          />
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Approving…' : 'Approve'}
          </button>
        </form>
      )}
      {outcome && outcome.kind !== 'approved' && (
        <p id="cli-login-error" role="alert" className="error" data-testid="cli-login-result">
          {outcome.kind === 'malformed' &&
            'That is not a code: it is 8 letters, like BCDF-GHJK, as the kre command shows it.'}
          {outcome.kind === 'unknown' &&
            'No kre login waits for this code: it is mistyped, expired, or was already used. Check the code in your terminal, or run kre login again for a new one.'}
          {outcome.kind === 'refused' && outcome.message}
        </p>
      )}
    </section>
  );
}
