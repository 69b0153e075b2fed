import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { useQuery } from '@apollo/client/react';
import { useApolloClient } from '@apollo/client/react';
import { Loading, ErrorState } from './components/states.tsx';
import { AdminPage } from './pages/admin.tsx';
import { NewVersionPage } from './pages/new-version.tsx';
import { RuntimePage } from './pages/runtime.tsx';
import { RuntimesPage } from './pages/runtimes.tsx';
import { SignInPage } from './pages/sign-in.tsx';
import { TokensPage } from './pages/tokens.tsx';
import { VersionPage } from './pages/version.tsx';
import { ME } from './queries.ts';
import { auth } from './rest.ts';
import { Link, paths, useLocation, useRoute } from './router.tsx';
import { SessionContext, type Me } from './session.tsx';

const unauthenticated = (error: unknown) =>
  CombinedGraphQLErrors.is(error) &&
  error.errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED');

export function App() {
  const route = useRoute();
  const { data, loading, error, refetch } = useQuery(ME);

  if (route.page === 'signin') return <SignInPage onSignedIn={() => void refetch()} />;
  if (loading && !data) return <Loading what="your session" />;
  if (error && unauthenticated(error)) return <SignInPage onSignedIn={() => void refetch()} />;
  if (error || !data)
    return <ErrorState what="your session" error={error ?? new Error('no data')} />;
  return (
    <SessionContext value={data.me}>
      <Shell me={data.me} />
    </SessionContext>
  );
}

function Shell({ me }: { me: Me }) {
  const route = useRoute();
  const { navigate } = useLocation();
  const client = useApolloClient();
  const signOut = () => {
    void auth.logout().finally(() => {
      void client.clearStore();
      navigate(paths.signin());
      window.location.reload();
    });
  };
  return (
    <>
      <a href="#main" className="skip">
        Skip to content
      </a>
      <header className="top">
        <nav aria-label="Main">
          <Link href={paths.runtimes()} className="brand">
            KRE
          </Link>
          <Link
            href={paths.runtimes()}
            aria-current={route.page === 'runtimes' ? 'page' : undefined}
          >
            Runtimes
          </Link>
          <Link href={paths.tokens()} aria-current={route.page === 'tokens' ? 'page' : undefined}>
            API tokens
          </Link>
          {me.platformRole === 'ADMIN' && (
            <Link href={paths.admin()} aria-current={route.page === 'admin' ? 'page' : undefined}>
              Users &amp; settings
            </Link>
          )}
        </nav>
        <div className="who">
          <span data-testid="me">{me.email}</span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {route.page === 'runtimes' && <RuntimesPage />}
        {route.page === 'runtime' && <RuntimePage runtimeId={route.runtimeId} tab={route.tab} />}
        {route.page === 'newVersion' && <NewVersionPage runtimeId={route.runtimeId} />}
        {route.page === 'version' && (
          <VersionPage
            runtimeId={route.runtimeId}
            versionName={route.versionName}
            tab={route.tab}
          />
        )}
        {route.page === 'tokens' && <TokensPage />}
        {route.page === 'admin' && <AdminPage />}
        {route.page === 'notFound' && (
          <section>
            <h1>Not found</h1>
            <p>
              Nothing here. <Link href={paths.runtimes()}>Back to your runtimes</Link>
            </p>
          </section>
        )}
      </main>
    </>
  );
}
