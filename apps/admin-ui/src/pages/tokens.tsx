import { useMutation, useQuery } from '@apollo/client/react';
import { useState } from 'react';
import { Empty, ErrorState, Loading, SecretOnce, formatDate } from '../components/states.tsx';
import { CliLoginApprove } from '../components/cli-login-approve.tsx';
import { API_TOKENS, DELETE_API_TOKEN, GENERATE_API_TOKEN } from '../queries.ts';
import { cliLogin } from '../rest.ts';
import { useMe } from '../session.tsx';

/** My API tokens (for the CLI and programs): generate one (its secret shown once), delete. */
export function TokensPage() {
  const me = useMe();
  const { data, loading, error } = useQuery(API_TOKENS);
  const [generate, generated] = useMutation(GENERATE_API_TOKEN, { refetchQueries: [API_TOKENS] });
  const [remove, removed] = useMutation(DELETE_API_TOKEN, { refetchQueries: [API_TOKENS] });
  const [name, setName] = useState('');
  const [days, setDays] = useState(30);
  const [secret, setSecret] = useState('');
  return (
    <section aria-labelledby="tokens-title">
      <h1 id="tokens-title">My API tokens</h1>
      <p className="muted">
        Programs and the kre CLI send one as “Authorization: Bearer &lt;token&gt;”.
      </p>
      {loading && !data && <Loading what="your tokens" />}
      {error && <ErrorState what="your tokens" error={error} />}
      {data && data.apiTokens.length === 0 && <Empty>No API token.</Empty>}
      {data && data.apiTokens.length > 0 && (
        <table>
          <caption className="sr-only">Your API tokens</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {data.apiTokens.map((t) => (
              <tr key={t.id}>
                <td data-label="Name">{t.name}</td>
                <td data-label="Created">{formatDate(t.creationDate)}</td>
                <td data-label="Expires">{formatDate(t.expiresAt)}</td>
                <td data-label="Last used">{formatDate(t.lastUsedAt)}</td>
                <td data-label="">
                  <button
                    type="button"
                    onClick={() =>
                      window.confirm(
                        `Delete the token "${t.name}"? Programs using it are refused at once.`,
                      ) &&
                      void remove({ variables: { input: { id: t.id } } }).catch(() => undefined)
                    }
                  >
                    Delete<span className="sr-only"> {t.name}</span>
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {secret && (
        <SecretOnce label="Your new API token" secret={secret} onDone={() => setSecret('')} />
      )}
      <form
        className="panel inline"
        aria-label="Generate an API token"
        onSubmit={(event) => {
          event.preventDefault();
          void generate({ variables: { input: { name, expiresInDays: days } } }).then(
            (result) => {
              setSecret(result.data?.generateApiToken.token ?? '');
              setName('');
            },
            () => undefined,
          );
        }}
      >
        <label htmlFor="token-name">Token name</label>
        <input id="token-name" required value={name} onChange={(e) => setName(e.target.value)} />
        <label htmlFor="token-days">Expires in (days)</label>
        <input
          id="token-days"
          type="number"
          min={1}
          required
          value={days}
          onChange={(e) => setDays(Number(e.target.value))}
        />
        <button type="submit" className="primary">
          Generate token
        </button>
      </form>
      {(generated.error ?? removed.error) && (
        <p role="alert" className="error">
          {(generated.error ?? removed.error)!.message}
        </p>
      )}
      <CliLoginApprove email={me.email} approve={cliLogin.approve} />
    </section>
  );
}
