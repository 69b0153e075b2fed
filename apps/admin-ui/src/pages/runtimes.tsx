import { useMutation, useQuery } from '@apollo/client/react';
import { useState } from 'react';
import { Empty, ErrorState, Loading, formatDate } from '../components/states.tsx';
import { CREATE_RUNTIME, RUNTIMES } from '../queries.ts';
import { Link, paths, useLocation } from '../router.tsx';
import { useMe } from '../session.tsx';

/** The runtimes I am a member of (platform admins: all), and a form for those who may create one. */
export function RuntimesPage() {
  const me = useMe();
  const { data, loading, error } = useQuery(RUNTIMES);
  return (
    <section aria-labelledby="runtimes-title">
      <h1 id="runtimes-title">Runtimes</h1>
      {loading && !data && <Loading what="your runtimes" />}
      {error && <ErrorState what="your runtimes" error={error} />}
      {data && data.runtimes.length === 0 && (
        <Empty>
          {me.platformRole === 'ADMIN'
            ? 'No runtime yet: create the first one below.'
            : 'You are not a member of any runtime yet: ask a runtime admin to add you.'}
        </Empty>
      )}
      {data && data.runtimes.length > 0 && (
        <ul className="cards" aria-label="Your runtimes">
          {data.runtimes.map((runtime) => (
            <li key={runtime.id} className="card">
              <h2>
                <Link href={paths.runtime(runtime.id)}>{runtime.name}</Link>
              </h2>
              <p className="muted">
                <code>{runtime.id}</code> · {runtime.status} · created{' '}
                {formatDate(runtime.creationDate)}
              </p>
              {runtime.description && <p>{runtime.description}</p>}
              <p>
                Published version:{' '}
                {runtime.publishedVersion ? <strong>{runtime.publishedVersion}</strong> : 'none'}
              </p>
            </li>
          ))}
        </ul>
      )}
      {me.platformRole === 'ADMIN' && <CreateRuntimeForm />}
    </section>
  );
}

export function CreateRuntimeForm() {
  const { navigate } = useLocation();
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [create, { loading, error }] = useMutation(CREATE_RUNTIME, { refetchQueries: [RUNTIMES] });
  const idProblem =
    id && !/^[a-z0-9-]{3,15}$/.test(id) ? 'The id must be 3 to 15 of a-z, 0-9 and -.' : '';
  return (
    <form
      className="panel"
      aria-labelledby="create-runtime-title"
      onSubmit={(event) => {
        event.preventDefault();
        if (idProblem) return;
        void create({ variables: { input: { id, name, description } } }).then(
          (result) => result.data && navigate(paths.runtime(result.data.createRuntime.id)),
          () => undefined,
        );
      }}
    >
      <h2 id="create-runtime-title">Create a runtime</h2>
      <label htmlFor="runtime-id">Id</label>
      <input
        id="runtime-id"
        required
        value={id}
        aria-describedby="runtime-id-help"
        aria-invalid={idProblem ? true : undefined}
        onChange={(event) => setId(event.target.value)}
      />
      <p id="runtime-id-help" className={idProblem ? 'error' : 'muted'}>
        {idProblem || 'Part of every name of the runtime: 3 to 15 of a-z, 0-9 and -.'}
      </p>
      <label htmlFor="runtime-name">Name</label>
      <input
        id="runtime-name"
        required
        value={name}
        onChange={(event) => setName(event.target.value)}
      />
      <label htmlFor="runtime-description">Description</label>
      <textarea
        id="runtime-description"
        value={description}
        onChange={(event) => setDescription(event.target.value)}
      />
      <button type="submit" className="primary" disabled={loading}>
        {loading ? 'Creating…' : 'Create runtime'}
      </button>
      {error && (
        <p role="alert" className="error">
          Could not create the runtime: {error.message}
        </p>
      )}
    </form>
  );
}
