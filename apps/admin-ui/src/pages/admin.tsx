import { useMutation, useQuery } from '@apollo/client/react';
import { useState } from 'react';
import { ErrorState, Loading } from '../components/states.tsx';
import { UsersTable, type UserAction } from '../components/users-table.tsx';
import {
  CREATE_USER,
  REMOVE_USERS,
  REVOKE_USER_SESSIONS,
  UPDATE_PLATFORM_ROLE,
  UPDATE_SETTINGS,
  USERS,
} from '../queries.ts';
import { useMe } from '../session.tsx';
import { AuditLog } from './runtime.tsx';

/** Platform admins: the users, the sign-in settings and the whole audit log. */
export function AdminPage() {
  const { data, loading, error } = useQuery(USERS);
  const [createUser, created] = useMutation(CREATE_USER, { refetchQueries: [USERS] });
  const [updateSettings, updated] = useMutation(UPDATE_SETTINGS, { refetchQueries: [USERS] });
  // The list is fresh before the form says it is done.
  const [updateRole] = useMutation(UPDATE_PLATFORM_ROLE, {
    refetchQueries: [USERS],
    awaitRefetchQueries: true,
  });
  const [revokeSessions] = useMutation(REVOKE_USER_SESSIONS, {
    refetchQueries: [USERS],
    awaitRefetchQueries: true,
  });
  const [removeUsers] = useMutation(REMOVE_USERS, {
    refetchQueries: [USERS],
    awaitRefetchQueries: true,
  });
  const me = useMe();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<'USER' | 'ADMIN'>('USER');
  const [domains, setDomains] = useState<string | null>(null);
  const act = (userId: string, action: UserAction, comment: string) => {
    const input = { userIds: [userId], comment };
    switch (action.kind) {
      case 'role':
        return updateRole({
          variables: { input: { ...input, platformRole: action.platformRole } },
        });
      case 'revoke':
        return revokeSessions({
          variables: { input, includeApiTokens: action.includeApiTokens },
        });
      case 'remove':
        return removeUsers({ variables: { input } });
    }
  };
  if (loading && !data) return <Loading what="the users" />;
  if (error || !data) return <ErrorState what="the users" error={error ?? new Error('no data')} />;
  return (
    <section aria-labelledby="admin-title">
      <h1 id="admin-title">Users and settings</h1>
      <h2>Users</h2>
      <UsersTable users={data.users} meId={me.id} onAction={act} />
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
