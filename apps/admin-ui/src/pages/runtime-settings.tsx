import { useMutation, useQuery } from '@apollo/client/react';
import {
  InvocationKeySetting,
  QuotaPanel,
  RetentionForm,
} from '../components/runtime-settings.tsx';
import { ErrorState, Loading } from '../components/states.tsx';
import type { ResultOf } from '../graphql.ts';
import {
  RUNTIME,
  RUNTIME_SETTINGS,
  SET_RETENTION,
  SET_RUNTIME_QUOTA,
  UPDATE_RUNTIME,
} from '../queries.ts';
import { atLeast, useMe, type RuntimeRole } from '../session.tsx';

/**
 * A runtime's quota (platform admins edit it) with the replicas its versions hold now, its
 * observability retention and whether calls need a key (its ADMINs change those).
 */
export function RuntimeSettings({
  runtime,
  role,
}: {
  runtime: ResultOf<typeof RUNTIME>['runtime'];
  role: RuntimeRole | null;
}) {
  const me = useMe();
  const runtimeId = runtime.id;
  const { data, loading, error } = useQuery(RUNTIME_SETTINGS, { variables: { runtimeId } });
  const refetchQueries = [{ query: RUNTIME, variables: { id: runtimeId } }];
  const [setQuota] = useMutation(SET_RUNTIME_QUOTA, { refetchQueries });
  const [setRetention] = useMutation(SET_RETENTION, {
    refetchQueries: [{ query: RUNTIME_SETTINGS, variables: { runtimeId } }],
  });
  const [updateRuntime] = useMutation(UPDATE_RUNTIME, { refetchQueries });
  const isAdmin = atLeast(role, 'ADMIN');
  const replicasInUse = data ? data.versions.reduce((sum, v) => sum + v.scale.replicas, 0) : null;
  return (
    <section aria-label="Quota and settings">
      <QuotaPanel
        quota={runtime.quota}
        replicasInUse={replicasInUse}
        canEdit={me.platformRole === 'ADMIN'}
        onSave={(input) => setQuota({ variables: { input: { runtimeId, ...input } } })}
      />
      {loading && !data && <Loading what="the retention" />}
      {error && <ErrorState what="the retention" error={error} />}
      {data && (
        <RetentionForm
          retention={data.observabilityRetention}
          canEdit={isAdmin}
          onSave={(days) => setRetention({ variables: { input: { runtimeId, days } } })}
        />
      )}
      <InvocationKeySetting
        required={runtime.requireInvocationKey}
        canEdit={isAdmin}
        onChange={(requireInvocationKey) =>
          updateRuntime({ variables: { input: { id: runtimeId, requireInvocationKey } } })
        }
      />
    </section>
  );
}
