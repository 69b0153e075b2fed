import { useState } from 'react';
import { fieldErrors } from './field-errors.ts';
import { formatDate } from './states.tsx';

export type PlatformRole = 'USER' | 'ADMIN';

export interface AdminUser {
  id: string;
  email: string;
  platformRole: PlatformRole;
  lastActivity?: string | null;
  activeSessions: number;
}

export type UserAction =
  | { kind: 'role'; platformRole: PlatformRole }
  | { kind: 'revoke'; includeApiTokens: boolean }
  | { kind: 'remove' };

const TITLES = { role: 'Change the platform role of', revoke: 'Sign out', remove: 'Remove' };

/**
 * The platform's users, for platform admins: change a platform role, end a user's sessions
 * (optionally their API tokens too), remove a user. Each asks for a comment (the audit log's
 * why) and says what it does before it is done.
 */
export function UsersTable({
  users,
  meId,
  onAction,
}: {
  users: readonly AdminUser[];
  meId: string;
  onAction: (userId: string, action: UserAction, comment: string) => Promise<unknown>;
}) {
  const [open, setOpen] = useState<{ userId: string; kind: UserAction['kind'] } | null>(null);
  const [role, setRole] = useState<PlatformRole>('USER');
  const [tokensToo, setTokensToo] = useState(false);
  const [comment, setComment] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState('');
  const user = users.find((u) => u.id === open?.userId);
  const start = (u: AdminUser, kind: UserAction['kind']) => {
    setOpen({ userId: u.id, kind });
    setRole(u.platformRole === 'ADMIN' ? 'USER' : 'ADMIN');
    setTokensToo(false);
    setComment('');
    setError('');
    setDone('');
  };
  return (
    <>
      <table>
        <caption className="sr-only">Users</caption>
        <thead>
          <tr>
            <th scope="col">Email</th>
            <th scope="col">Platform role</th>
            <th scope="col">Last activity</th>
            <th scope="col">Sessions</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr key={u.id} data-testid={`user-${u.email}`}>
              <td data-label="Email">{u.email}</td>
              <td data-label="Platform role">{u.platformRole}</td>
              <td data-label="Last activity">{formatDate(u.lastActivity)}</td>
              <td data-label="Sessions">{u.activeSessions}</td>
              <td data-label="">
                {u.id === meId ? (
                  <span className="muted">you</span>
                ) : (
                  <div className="row">
                    <button type="button" onClick={() => start(u, 'role')}>
                      Change role<span className="sr-only"> of {u.email}</span>
                    </button>
                    <button type="button" onClick={() => start(u, 'revoke')}>
                      Sign out<span className="sr-only"> {u.email}</span>
                    </button>
                    <button type="button" className="danger" onClick={() => start(u, 'remove')}>
                      Remove<span className="sr-only"> {u.email}</span>
                    </button>
                  </div>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {done && (
        <p role="status" className="ok">
          {done}
        </p>
      )}
      {open && user && (
        <form
          className="panel"
          aria-label={`${TITLES[open.kind]} ${user.email}`}
          onSubmit={(event) => {
            event.preventDefault();
            if (!comment.trim())
              return setError('Comment is required (why: kept in the audit log)');
            const action: UserAction =
              open.kind === 'role'
                ? { kind: 'role', platformRole: role }
                : open.kind === 'revoke'
                  ? { kind: 'revoke', includeApiTokens: tokensToo }
                  : { kind: 'remove' };
            setBusy(true);
            setError('');
            onAction(user.id, action, comment.trim()).then(
              () => {
                setBusy(false);
                setOpen(null);
                setDone(
                  action.kind === 'role'
                    ? `${user.email} is now ${action.platformRole}.`
                    : action.kind === 'revoke'
                      ? `${user.email} is signed out everywhere${action.includeApiTokens ? ', their API tokens deleted' : ''}.`
                      : `${user.email} is removed.`,
                );
              },
              (e: unknown) => {
                setBusy(false);
                setError(fieldErrors(e).general);
              },
            );
          }}
        >
          <h3>
            {TITLES[open.kind]} {user.email}
          </h3>
          {open.kind === 'role' && (
            <>
              <label htmlFor="platform-role">New platform role</label>
              <select
                id="platform-role"
                value={role}
                onChange={(e) => setRole(e.target.value as PlatformRole)}
              >
                <option value="USER">USER</option>
                <option value="ADMIN">ADMIN</option>
              </select>
            </>
          )}
          {open.kind === 'revoke' && (
            <>
              <p>Ends every session of {user.email}: they sign in again.</p>
              <label className="check">
                <input
                  type="checkbox"
                  checked={tokensToo}
                  onChange={(e) => setTokensToo(e.target.checked)}
                />
                Also delete their API tokens (programs using them are refused)
              </label>
            </>
          )}
          {open.kind === 'remove' && (
            <p className="warning" role="alert">
              Removing {user.email} ends their sessions, deletes their API tokens and takes them out
              of every runtime.
            </p>
          )}
          <label htmlFor="user-action-comment">Comment (why; kept in the audit log)</label>
          <textarea
            id="user-action-comment"
            value={comment}
            onChange={(e) => setComment(e.target.value)}
          />
          <div className="row">
            <button
              type="submit"
              className={open.kind === 'remove' ? 'danger' : 'primary'}
              disabled={busy}
            >
              {busy
                ? 'Working…'
                : open.kind === 'role'
                  ? `Confirm: make them ${role}`
                  : open.kind === 'revoke'
                    ? 'Confirm sign-out'
                    : 'Confirm removal'}
            </button>
            <button type="button" onClick={() => setOpen(null)}>
              Cancel
            </button>
          </div>
          {error && (
            <p role="alert" className="error">
              {error}
            </p>
          )}
        </form>
      )}
    </>
  );
}
