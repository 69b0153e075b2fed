import { useMutation, useQuery, useSubscription } from '@apollo/client/react';
import { useState } from 'react';
import { Empty, ErrorState, Loading, SecretOnce, formatDate } from '../components/states.tsx';
import {
  ADD_MEMBER,
  AUDIT,
  CREATE_INVOCATION_KEY,
  INVOCATION_KEYS,
  REMOVE_MEMBER,
  REVOKE_INVOCATION_KEY,
  RUNTIME,
  RUNTIMES,
  UPDATE_MEMBER_ROLE,
  VERSIONS,
  WATCH_VERSION,
} from '../queries.ts';
import { Link, RUNTIME_TABS, paths, useLocation, type RuntimeTab } from '../router.tsx';
import { atLeast, roleIn, useMe, type RuntimeRole } from '../session.tsx';
import { AuditFiltersForm, type AuditFilterInput } from '../components/audit-filters.tsx';
import { RuntimeSettings } from './runtime-settings.tsx';

const TAB_LABELS: Record<RuntimeTab, string> = {
  versions: 'Versions',
  members: 'Members',
  keys: 'Invocation keys',
  settings: 'Quota & settings',
  audit: 'Audit log',
};

/** Switches to another of my runtimes, keeping the tab. */
export function RuntimeSwitcher({ current }: { current: string }) {
  const { data } = useQuery(RUNTIMES);
  const { navigate } = useLocation();
  if (!data || data.runtimes.length < 2) return null;
  return (
    <label className="switcher">
      Runtime{' '}
      <select value={current} onChange={(event) => navigate(paths.runtime(event.target.value))}>
        {data.runtimes.map((r) => (
          <option key={r.id} value={r.id}>
            {r.name} ({r.id})
          </option>
        ))}
      </select>
    </label>
  );
}

export function useRuntimeRole(runtimeId: string) {
  const me = useMe();
  const result = useQuery(RUNTIME, { variables: { id: runtimeId } });
  const role = result.data ? roleIn(me, result.data.runtimeMembers) : null;
  return { ...result, role };
}

export function RuntimePage({ runtimeId, tab }: { runtimeId: string; tab: RuntimeTab }) {
  const { data, loading, error, role } = useRuntimeRole(runtimeId);
  if (loading && !data) return <Loading what="the runtime" />;
  if (error || !data)
    return <ErrorState what="the runtime" error={error ?? new Error('no data')} />;
  const runtime = data.runtime;
  return (
    <section aria-labelledby="runtime-title">
      <div className="heading">
        <h1 id="runtime-title">{runtime.name}</h1>
        <RuntimeSwitcher current={runtimeId} />
      </div>
      <p className="muted">
        <code>{runtime.id}</code> · {runtime.status} · your role:{' '}
        <strong data-testid="role">{role}</strong>
      </p>
      <p className="muted">
        Address: <code>{runtime.entrypointAddress.http}</code> ·{' '}
        {runtime.requireInvocationKey
          ? 'calls need an invocation key'
          : 'calls need no invocation key'}
      </p>
      <nav className="tabs" aria-label="Runtime sections">
        {RUNTIME_TABS.filter((t) => t !== 'audit' || atLeast(role, 'ADMIN')).map((t) => (
          <Link
            key={t}
            href={paths.runtime(runtimeId, t)}
            aria-current={t === tab ? 'page' : undefined}
          >
            {TAB_LABELS[t]}
          </Link>
        ))}
      </nav>
      {tab === 'versions' && <VersionsList runtimeId={runtimeId} role={role} />}
      {tab === 'members' && (
        <Members runtimeId={runtimeId} role={role} members={data.runtimeMembers} />
      )}
      {tab === 'keys' && <InvocationKeys runtimeId={runtimeId} role={role} />}
      {tab === 'settings' && <RuntimeSettings runtime={runtime} role={role} />}
      {tab === 'audit' && atLeast(role, 'ADMIN') && <AuditLog runtimeId={runtimeId} />}
    </section>
  );
}

export function StatusBadge({ status }: { status: string | null | undefined }) {
  return (
    <span className={`badge status-${(status ?? 'unknown').toLowerCase()}`}>{status ?? '…'}</span>
  );
}

function VersionsList({ runtimeId, role }: { runtimeId: string; role: RuntimeRole | null }) {
  const { data, loading, error, refetch } = useQuery(VERSIONS, { variables: { runtimeId } });
  const [steps, setSteps] = useState<Record<string, string>>({});
  useSubscription(WATCH_VERSION, {
    variables: { runtimeId },
    onData: ({ data: event }) => {
      const e = event.data?.watchVersion;
      if (!e) return;
      if (e.step || e.message)
        setSteps((s) => ({
          ...s,
          [e.versionName]: [e.step, e.message].filter(Boolean).join(': '),
        }));
      if (e.status) void refetch();
    },
  });
  const versions = [...(data?.versions ?? [])].sort(
    (a, b) => Number(b.status === 'PUBLISHED') - Number(a.status === 'PUBLISHED'),
  );
  return (
    <section aria-label="Versions">
      {atLeast(role, 'MANAGER') && (
        <p>
          <Link href={paths.newVersion(runtimeId)} className="button primary">
            Upload a new version
          </Link>
        </p>
      )}
      {loading && !data && <Loading what="the versions" />}
      {error && <ErrorState what="the versions" error={error} />}
      {data && versions.length === 0 && <Empty>No version yet.</Empty>}
      {versions.length > 0 && (
        <table>
          <caption className="sr-only">Versions, the published one first</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Last step</th>
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.id} data-testid={`version-${v.name}`}>
                <td data-label="Name">
                  <Link href={paths.version(runtimeId, v.name)}>{v.name}</Link>
                  {v.description && <div className="muted">{v.description}</div>}
                </td>
                <td data-label="Status">
                  <StatusBadge status={v.status} />
                  {v.scale.state && (
                    <div className="muted" data-testid={`scale-${v.name}`}>
                      {v.scale.state === 'AWAKE'
                        ? `awake, ${v.scale.replicas} replicas`
                        : v.scale.state === 'SLEEPING'
                          ? 'asleep'
                          : 'waking'}
                    </div>
                  )}
                  {v.errors.length > 0 && <div className="error">{v.errors.join('; ')}</div>}
                </td>
                <td data-label="Created">{formatDate(v.creationDate)}</td>
                <td data-label={steps[v.name] ? 'Last step' : ''} className="muted">
                  {steps[v.name] ?? ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

const ROLES: RuntimeRole[] = ['VIEWER', 'MANAGER', 'ADMIN'];

function Members({
  runtimeId,
  role,
  members,
}: {
  runtimeId: string;
  role: RuntimeRole | null;
  members: readonly { userId: string; email: string; role: RuntimeRole; creationDate: string }[];
}) {
  const isAdmin = atLeast(role, 'ADMIN');
  const refetchQueries = [{ query: RUNTIME, variables: { id: runtimeId } }];
  const [add, added] = useMutation(ADD_MEMBER, { refetchQueries });
  const [update, updated] = useMutation(UPDATE_MEMBER_ROLE, { refetchQueries });
  const [remove, removed] = useMutation(REMOVE_MEMBER, { refetchQueries });
  const [email, setEmail] = useState('');
  const [newRole, setNewRole] = useState<RuntimeRole>('VIEWER');
  const failure = added.error ?? updated.error ?? removed.error;
  return (
    <section aria-label="Members">
      <table>
        <caption className="sr-only">Members and their roles</caption>
        <thead>
          <tr>
            <th scope="col">Email</th>
            <th scope="col">Role</th>
            <th scope="col">Since</th>
            {isAdmin && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {members.map((m) => (
            <tr key={m.userId}>
              <td data-label="Email">{m.email}</td>
              <td data-label="Role">
                {isAdmin ? (
                  <select
                    aria-label={`Role of ${m.email}`}
                    value={m.role}
                    onChange={(event) =>
                      void update({
                        variables: {
                          input: {
                            runtimeId,
                            userId: m.userId,
                            role: event.target.value as RuntimeRole,
                          },
                        },
                      }).catch(() => undefined)
                    }
                  >
                    {ROLES.map((r) => (
                      <option key={r}>{r}</option>
                    ))}
                  </select>
                ) : (
                  m.role
                )}
              </td>
              <td data-label="Since">{formatDate(m.creationDate)}</td>
              {isAdmin && (
                <td data-label="">
                  <button
                    type="button"
                    onClick={() =>
                      window.confirm(`Remove ${m.email} from this runtime?`) &&
                      void remove({ variables: { input: { runtimeId, userId: m.userId } } }).catch(
                        () => undefined,
                      )
                    }
                  >
                    Remove<span className="sr-only"> {m.email}</span>
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {isAdmin && (
        <form
          className="panel inline"
          aria-label="Add a member"
          onSubmit={(event) => {
            event.preventDefault();
            void add({ variables: { input: { runtimeId, email, role: newRole } } }).then(
              () => setEmail(''),
              () => undefined,
            );
          }}
        >
          <label htmlFor="member-email">Email</label>
          <input
            id="member-email"
            type="email"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
          <label htmlFor="member-role">Role</label>
          <select
            id="member-role"
            value={newRole}
            onChange={(e) => setNewRole(e.target.value as RuntimeRole)}
          >
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
          <button type="submit" className="primary">
            Add member
          </button>
        </form>
      )}
      {failure && (
        <p role="alert" className="error">
          {failure.message}
        </p>
      )}
    </section>
  );
}

function InvocationKeys({ runtimeId, role }: { runtimeId: string; role: RuntimeRole | null }) {
  const { data, loading, error } = useQuery(INVOCATION_KEYS, { variables: { runtimeId } });
  const refetchQueries = [{ query: INVOCATION_KEYS, variables: { runtimeId } }];
  const [create, created] = useMutation(CREATE_INVOCATION_KEY, { refetchQueries });
  const [revoke, revoked] = useMutation(REVOKE_INVOCATION_KEY, { refetchQueries });
  const [name, setName] = useState('');
  const [secret, setSecret] = useState('');
  const canManage = atLeast(role, 'ADMIN');
  return (
    <section aria-label="Invocation keys">
      <p className="muted">Callers of the runtime send one of these keys to the gateway.</p>
      {loading && !data && <Loading what="the invocation keys" />}
      {error && <ErrorState what="the invocation keys" error={error} />}
      {data && data.invocationKeys.length === 0 && <Empty>No invocation key yet.</Empty>}
      {data && data.invocationKeys.length > 0 && (
        <table>
          <caption className="sr-only">Invocation keys</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">State</th>
              {canManage && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {data.invocationKeys.map((k) => (
              <tr key={k.id}>
                <td data-label="Name">{k.name}</td>
                <td data-label="Created">{formatDate(k.createdAt)}</td>
                <td data-label="Last used">{formatDate(k.lastUsedAt)}</td>
                <td data-label="State">
                  {k.revokedAt ? `revoked ${formatDate(k.revokedAt)}` : 'active'}
                </td>
                {canManage && (
                  <td data-label="">
                    {!k.revokedAt && (
                      <button
                        type="button"
                        onClick={() =>
                          window.confirm(
                            `Revoke the key "${k.name}"? Callers using it are refused within seconds.`,
                          ) &&
                          void revoke({ variables: { runtimeId, id: k.id } }).catch(() => undefined)
                        }
                      >
                        Revoke<span className="sr-only"> {k.name}</span>
                      </button>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {secret && (
        <SecretOnce label="The new invocation key" secret={secret} onDone={() => setSecret('')} />
      )}
      {canManage && (
        <form
          className="panel inline"
          aria-label="Create an invocation key"
          onSubmit={(event) => {
            event.preventDefault();
            void create({ variables: { runtimeId, input: { name } } }).then(
              (result) => {
                setSecret(result.data?.createInvocationKey.key ?? '');
                setName('');
              },
              () => undefined,
            );
          }}
        >
          <label htmlFor="key-name">Key name</label>
          <input id="key-name" required value={name} onChange={(e) => setName(e.target.value)} />
          <button type="submit" className="primary">
            Create key
          </button>
        </form>
      )}
      {(created.error ?? revoked.error) && (
        <p role="alert" className="error">
          {(created.error ?? revoked.error)!.message}
        </p>
      )}
    </section>
  );
}

export function AuditLog({ runtimeId }: { runtimeId?: string }) {
  const [filters, setFilters] = useState<AuditFilterInput>({ runtimeId });
  const { data, loading, error, fetchMore } = useQuery(AUDIT, { variables: { filters } });
  const page = data?.userActivityList;
  return (
    <section aria-label="Audit log">
      <AuditFiltersForm runtimeId={runtimeId} onApply={setFilters} />
      {loading && !data && <Loading what="the audit log" />}
      {error && <ErrorState what="the audit log" error={error} />}
      {page && page.items.length === 0 && <Empty>No entry.</Empty>}
      {page && page.items.length > 0 && (
        <table>
          <caption className="sr-only">Audit entries, newest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">What</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((a) => (
              <tr key={a.id}>
                <td data-label="When">{formatDate(a.date)}</td>
                <td data-label="Who">{a.userEmail}</td>
                <td data-label="What">{a.type}</td>
                <td data-label="Details" className="muted">
                  {a.vars.map((v) => `${v.key}: ${v.value}`).join(', ')}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {page?.cursor && (
        <button
          type="button"
          onClick={() =>
            void fetchMore({
              variables: { cursor: page.cursor },
              updateQuery: (previous, { fetchMoreResult }) => ({
                userActivityList: {
                  ...fetchMoreResult.userActivityList,
                  items: [
                    ...previous.userActivityList.items,
                    ...fetchMoreResult.userActivityList.items,
                  ],
                },
              }),
            })
          }
        >
          Older entries
        </button>
      )}
    </section>
  );
}
