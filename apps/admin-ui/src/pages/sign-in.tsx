import { useEffect, useState } from 'react';
import { auth } from '../rest.ts';
import { Link, paths } from '../router.tsx';

type State =
  | { step: 'form' }
  | { step: 'requested'; message: string }
  | { step: 'checking' }
  | { step: 'confirm'; email: string; token: string }
  | { step: 'signingIn'; email: string }
  | { step: 'signedIn'; email: string }
  | { step: 'failed'; reason: string };

/** Reads the link's token from the fragment once, and takes it out of the address bar. */
function takeToken(): string {
  const token = window.location.hash.slice(1);
  if (token) window.history.replaceState(null, '', window.location.pathname);
  return token;
}

/**
 * Sign-in by emailed link. The token is in the URL fragment, which never reaches a server (a
 * mail scanner fetching the link consumes nothing). The page first asks whose account the link
 * opens (inspect consumes nothing) and signs in only on a click: a link someone else requested
 * (login CSRF) cannot sign this browser into their account unseen.
 */
export function SignInPage({ onSignedIn }: { onSignedIn: () => void }) {
  const [token, setToken] = useState(takeToken);
  const [state, setState] = useState<State>(token ? { step: 'checking' } : { step: 'form' });
  const [email, setEmail] = useState('');
  const [formError, setFormError] = useState('');

  // A link opened in the tab that asked for it changes only the fragment: no new page load.
  useEffect(() => {
    const onHash = () => {
      const next = takeToken();
      if (next) setToken(next);
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    if (!token) return;
    setState({ step: 'checking' });
    let live = true;
    auth.inspect(token).then(
      (answer) => live && setState({ step: 'confirm', email: answer.email, token }),
      (error: Error) => live && setState({ step: 'failed', reason: error.message }),
    );
    return () => {
      live = false;
    };
  }, [token]);

  const confirm = (state: { email: string; token: string }) => {
    setState({ step: 'signingIn', email: state.email });
    auth.verify(state.token).then(
      (answer) => {
        setState({ step: 'signedIn', email: answer.user.email });
        onSignedIn();
      },
      (error: Error) => setState({ step: 'failed', reason: error.message }),
    );
  };

  const request = (event: React.FormEvent) => {
    event.preventDefault();
    setFormError('');
    auth.requestLink(email).then(
      (answer) => setState({ step: 'requested', message: answer.message }),
      (error: Error) => setFormError(`Could not request a link: ${error.message}`),
    );
  };

  return (
    <main className="signin" aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in to KRE</h1>
      {state.step === 'checking' && <p role="status">Checking the link…</p>}
      {state.step === 'failed' && (
        <p role="alert" className="error" data-result="failed">
          Sign-in failed: {state.reason}.
        </p>
      )}
      {(state.step === 'confirm' || state.step === 'signingIn') && (
        <section aria-label="Confirm the sign-in">
          <p>
            Sign in to KRE as <strong data-testid="account">{state.email}</strong>?
          </p>
          <p>
            Continue only if this is your account and you asked for this link. If someone sent you
            this link, close this page: it would sign this browser into their account.
          </p>
          <button
            type="button"
            className="primary"
            disabled={state.step === 'signingIn'}
            onClick={() => state.step === 'confirm' && confirm(state)}
          >
            {state.step === 'signingIn' ? 'Signing in…' : 'Sign in'}
          </button>
        </section>
      )}
      {state.step === 'signedIn' && (
        <section role="status" data-result="ok">
          <p>
            You are signed in as <strong data-testid="account">{state.email}</strong>.
          </p>
          <p>
            <Link href={paths.runtimes()} className="button primary">
              Open your runtimes
            </Link>
          </p>
        </section>
      )}
      {state.step === 'requested' && (
        <section role="status">
          <h2>Check your mail</h2>
          <p>{state.message}</p>
          <p>The link works for a few minutes; open it in this browser.</p>
          <button type="button" onClick={() => setState({ step: 'form' })}>
            Use another address
          </button>
        </section>
      )}
      {(state.step === 'form' || state.step === 'failed') && (
        <form onSubmit={request} aria-label="Request a sign-in link">
          <label htmlFor="signin-email">Email</label>
          <input
            id="signin-email"
            type="email"
            required
            autoComplete="email"
            value={email}
            onChange={(event) => setEmail(event.target.value)}
          />
          <button type="submit" className="primary">
            Email me a sign-in link
          </button>
          {formError && (
            <p role="alert" className="error">
              {formError}
            </p>
          )}
        </form>
      )}
    </main>
  );
}
