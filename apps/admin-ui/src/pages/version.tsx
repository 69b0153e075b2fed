import { useMutation, useQuery, useSubscription } from '@apollo/client/react';
import { Suspense, lazy, useState } from 'react';
import { ConfigEditor } from '../components/config-editor.tsx';
import { LogsView } from '../components/logs-view.tsx';
import { MetricsView } from '../components/metrics-view.tsx';
import { ErrorState, Loading, formatDate } from '../components/states.tsx';
import { VersionActions, type VersionAction } from '../components/version-actions.tsx';
import {
  AutoscaleTable,
  IdleTimeForm,
  ScaleStatus,
  type Scale,
} from '../components/version-scale.tsx';
import { WorkflowGraph, type LiveNode } from '../components/workflow-graph.tsx';
import {
  DELETE_VERSION,
  PUBLISH_VERSION,
  START_VERSION,
  STOP_VERSION,
  UNPUBLISH_VERSION,
  UPDATE_CONFIG,
  UPDATE_ENTRYPOINT_AUTOSCALE,
  UPDATE_NODE_AUTOSCALE,
  UPDATE_VERSION_SCALE,
  VERSION,
  VERSIONS,
  WATCH_NODE_STATUS,
  WATCH_VERSION,
  RUNTIME,
} from '../queries.ts';
import { Link, VERSION_TABS, paths, useLocation, type VersionTab } from '../router.tsx';
import { atLeast } from '../session.tsx';
import { StatusBadge, useRuntimeRole } from './runtime.tsx';

const TAB_LABELS: Record<VersionTab, string> = {
  workflows: 'Workflows',
  scale: 'Scale',
  config: 'Configuration',
  logs: 'Logs',
  metrics: 'Metrics',
  docs: 'Documentation',
};

/** The Markdown renderer and sanitiser load with the documentation tab, not the first page. */
const DocsView = lazy(() => import('../components/docs-view.tsx'));

export function VersionPage({
  runtimeId,
  versionName,
  tab,
}: {
  runtimeId: string;
  versionName: string;
  tab: VersionTab;
}) {
  const { navigate } = useLocation();
  const runtime = useRuntimeRole(runtimeId);
  const { data, loading, error, refetch } = useQuery(VERSION, {
    variables: { runtimeId, name: versionName },
  });
  const [live, setLive] = useState<ReadonlyMap<string, LiveNode>>(new Map());
  // The scale as the latest event left it (state and replicas; the idle time comes from the query).
  const [liveScale, setLiveScale] = useState<Pick<Scale, 'state' | 'replicas'> | null>(null);
  useSubscription(WATCH_NODE_STATUS, {
    variables: { runtimeId, versionName },
    onData: ({ data: event }) => {
      const e = event.data?.watchNodeStatus;
      if (e) setLive((previous) => new Map(previous).set(e.nodeId, e));
      if (e?.scale) setLiveScale({ state: e.scale.state, replicas: e.scale.replicas });
    },
  });
  // Status changes of this version (the deployer's jobs end after the mutation answers).
  useSubscription(WATCH_VERSION, {
    variables: { runtimeId },
    onData: ({ data: event }) => {
      const e = event.data?.watchVersion;
      if (e?.versionName === versionName && e.scale)
        setLiveScale({ state: e.scale.state, replicas: e.scale.replicas });
      if (e?.versionName === versionName && e.status) {
        void refetch();
        void runtime.refetch();
      }
    },
  });
  const refetchQueries = [
    { query: VERSIONS, variables: { runtimeId } },
    { query: RUNTIME, variables: { id: runtimeId } },
  ];
  const [start] = useMutation(START_VERSION, { refetchQueries });
  const [stop] = useMutation(STOP_VERSION, { refetchQueries });
  const [publish] = useMutation(PUBLISH_VERSION, { refetchQueries });
  const [unpublish] = useMutation(UNPUBLISH_VERSION, { refetchQueries });
  const [remove] = useMutation(DELETE_VERSION, { refetchQueries });
  const [updateConfig] = useMutation(UPDATE_CONFIG);
  const [updateScale] = useMutation(UPDATE_VERSION_SCALE);
  const [updateAutoscale] = useMutation(UPDATE_NODE_AUTOSCALE);
  const [updateEntrypointAutoscale] = useMutation(UPDATE_ENTRYPOINT_AUTOSCALE);

  // Only before the first answer: a refetch keeps the page (and the editor's state) in place.
  if ((loading && !data) || (runtime.loading && !runtime.data))
    return <Loading what="the version" />;
  if (error || !data)
    return <ErrorState what="the version" error={error ?? new Error('no data')} />;
  const version = data.version;
  const role = runtime.role;
  const canManage = atLeast(role, 'MANAGER');
  const scale: Scale = { ...version.scale, ...(liveScale ?? {}) };

  const act = async (action: VersionAction, comment: string) => {
    const variables = { input: { runtimeId, versionName, comment } };
    const run = { start, stop, publish, unpublish, delete: remove }[action];
    await run({ variables });
    if (action === 'delete') navigate(paths.runtime(runtimeId));
    else await refetch();
  };

  return (
    <section aria-labelledby="version-title">
      <p>
        <Link href={paths.runtime(runtimeId)}>
          ← Versions of {runtime.data?.runtime.name ?? runtimeId}
        </Link>
      </p>
      <div className="heading">
        <h1 id="version-title">
          {version.name} <StatusBadge status={version.status} />
        </h1>
      </div>
      <p className="muted">
        KRT {version.krtVersion} · uploaded {formatDate(version.creationDate)}
        {version.publicationDate && ` · published ${formatDate(version.publicationDate)}`}
      </p>
      <ScaleStatus scale={scale} />
      {version.description && <p>{version.description}</p>}
      {version.errors.length > 0 && (
        <div role="alert" className="error">
          <p>Errors:</p>
          <ul>
            {version.errors.map((e, i) => (
              <li key={i}>{e}</li>
            ))}
          </ul>
        </div>
      )}
      {version.entrypointAddress && (
        <p className="muted">
          Answers at <code>{version.entrypointAddress.http}</code> (gRPC{' '}
          <code>{version.entrypointAddress.grpc}</code>)
        </p>
      )}
      {canManage && (
        <VersionActions
          status={version.status}
          configCompleted={version.config.completed}
          publishedVersion={runtime.data?.runtime.publishedVersion}
          versionName={version.name}
          onAction={act}
        />
      )}
      <nav className="tabs" aria-label="Version sections">
        {VERSION_TABS.map((t) => (
          <Link
            key={t}
            href={paths.version(runtimeId, versionName, t)}
            aria-current={t === tab ? 'page' : undefined}
          >
            {TAB_LABELS[t]}
          </Link>
        ))}
      </nav>
      {tab === 'workflows' &&
        version.workflows.map((w) => <WorkflowGraph key={w.name} workflow={w} live={live} />)}
      {tab === 'scale' && (
        <>
          <IdleTimeForm
            idleSeconds={version.scale.idleSeconds}
            canEdit={canManage}
            onSave={(idleSeconds, comment) =>
              updateScale({
                variables: { input: { runtimeId, versionName, idleSeconds, comment } },
              })
            }
          />
          <AutoscaleTable
            entrypointAutoscale={version.entrypointAutoscale}
            nodes={version.workflows.flatMap((w) =>
              w.nodes.map((n) => ({ workflow: w.name, ...n })),
            )}
            canEdit={canManage}
            onSave={(change) =>
              updateAutoscale({ variables: { input: { runtimeId, versionName, ...change } } })
            }
            onSaveEntrypoint={(change) =>
              updateEntrypointAutoscale({
                variables: { input: { runtimeId, versionName, ...change } },
              })
            }
          />
        </>
      )}
      {tab === 'config' && (
        <ConfigEditor
          vars={version.config.vars}
          status={version.status}
          canEdit={canManage}
          onSave={(changes) =>
            updateConfig({
              variables: { input: { runtimeId, versionName, configurationVariables: changes } },
            }).then(() => refetch())
          }
        />
      )}
      {tab === 'logs' && (
        <LogsView
          runtimeId={runtimeId}
          versionName={versionName}
          nodeNames={[
            'entrypoint',
            ...version.workflows.flatMap((w) => w.nodes.map((n) => `${w.name}.${n.name}`)),
          ]}
        />
      )}
      {tab === 'metrics' && <MetricsView runtimeId={runtimeId} versionName={versionName} />}
      {tab === 'docs' && (
        <Suspense fallback={<Loading what="the documentation" />}>
          <DocsView runtimeId={runtimeId} versionName={versionName} files={version.docs} />
        </Suspense>
      )}
    </section>
  );
}
