import { useMutation, useQuery } from '@apollo/client/react';
import { useState } from 'react';
import { ErrorState, Loading, formatDate } from '../components/states.tsx';
import { CREATE_USER, UPDATE_SETTINGS, USERS } from '../queries.ts';
import { AuditLog } from './runtime.tsx';

/** Platform admins: the users, the sign-in settings and the whole audit log. */
export function AdminPage() {
  const { data, loading, error } = useQuery(USERS);
  const [createUser, created] = useMutation(CREATE_USER, { refetchQueries: [USERS] });
  const [updateSettings, updated] = useMutation(UPDATE_SETTINGS, { refetchQueries: [USERS] });
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<'USER' | 'ADMIN'>('USER');
  const [domains, setDomains] = useState<string | null>(null);
  if (loading && !data) return <Loading what="the users" />;
  if (error || !data) return <ErrorState what="the users" error={error ?? new Error('no data')} />;
  return (
    <section aria-labelledby="admin-title">
      <h1 id="admin-title">Users and settings</h1>
      <h2>Users</h2>
      <table>
        <caption className="sr-only">Users</caption>
        <thead>
          <tr>
            <th scope="col">Email</th>
            <th scope="col">Platform role</th>
            <th scope="col">Last activity</th>
            <th scope="col">Sessions</th>
          </tr>
        </thead>
        <tbody>
          {data.users.map((u) => (
            <tr key={u.id}>
              <td>{u.email}</td>
              <td>{u.platformRole}</td>
              <td>{formatDate(u.lastActivity)}</td>
              <td>{u.activeSessions}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        className="panel inline"
        aria-label="Create a user"
        onSubmit={(event) => {
          event.preventDefault();
          void createUser({ variables: { input: { email, platformRole: role } } }).then(
            () => setEmail(''),
            () => undefined,
          );
        }}
      >
        <label htmlFor="user-email">Email</label>
        <input
          id="user-email"
          type="email"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <label htmlFor="user-role">Platform role</label>
        <select
          id="user-role"
          value={role}
          onChange={(e) => setRole(e.target.value as 'USER' | 'ADMIN')}
        >
          <option>USER</option>
          <option>ADMIN</option>
        </select>
        <button type="submit" className="primary">
          Create user
        </button>
      </form>
      <h2>Settings</h2>
      <form
        className="panel"
        aria-label="Sign-in settings"
        onSubmit={(event) => {
          event.preventDefault();
          if (domains === null) return;
          const list = domains.split(/[\s,]+/).filter(Boolean);
          void updateSettings({ variables: { input: { authAllowedDomains: list } } }).then(
            () => setDomains(null),
            () => undefined,
          );
        }}
      >
        <label htmlFor="allowed-domains">
          Domains whose addresses may sign up (comma-separated)
        </label>
        <input
          id="allowed-domains"
          value={domains ?? data.settings.authAllowedDomains.join(', ')}
          onChange={(e) => setDomains(e.target.value)}
        />
        <p className="muted">
          Sessions last {data.settings.sessionLifetimeInDays} days (idle{' '}
          {data.settings.sessionIdleMinutes} min); sign-in links work{' '}
          {data.settings.signInLinkTtlMinutes} min.
        </p>
        <button type="submit" className="primary" disabled={domains === null}>
          Save settings
        </button>
      </form>
      {(created.error ?? updated.error) && (
        <p role="alert" className="error">
          {(created.error ?? updated.error)!.message}
        </p>
      )}
      <h2>Audit log</h2>
      <AuditLog />
    </section>
  );
}
