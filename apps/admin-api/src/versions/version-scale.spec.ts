import { VersionStatus } from '@libs/core';
import type { VersionDoc } from '@libs/persistence';
import { describe, expect, it } from 'vitest';
import { plannedReplicas, versionScaleOf } from './version-scale.js';

const krt = {
  workflows: [{ nodes: [{ replicas: 1 }, { replicas: 3 }] }, { nodes: [{ replicas: 2 }] }],
} as unknown as VersionDoc['krt'];
const doc = (status: VersionStatus, scale?: VersionDoc['scale']) => ({ status, krt, scale });

describe(versionScaleOf.name, () => {
  it('counts the entrypoint and every node replica the KRT asks for', () => {
    expect(plannedReplicas({ krt })).toBe(7);
  });

  it('is AWAKE with its planned replicas for a running version the deployer wrote nothing of', () => {
    expect(versionScaleOf(doc(VersionStatus.STARTED))).toEqual({
      state: 'AWAKE',
      replicas: 7,
      idleSeconds: null,
    });
  });

  it('says what the deployer wrote while it runs, and only its idle time otherwise', () => {
    expect(
      versionScaleOf(
        doc(VersionStatus.PUBLISHED, { state: 'SLEEPING', replicas: 0, idleSeconds: 300 }),
      ),
    ).toEqual({ state: 'SLEEPING', replicas: 0, idleSeconds: 300 });
    expect(versionScaleOf(doc(VersionStatus.STARTED, { state: 'AWAKE', replicas: 4 }))).toEqual({
      state: 'AWAKE',
      replicas: 4,
      idleSeconds: null,
    });
    expect(
      versionScaleOf(doc(VersionStatus.STOPPED, { state: 'SLEEPING', idleSeconds: 0 })),
    ).toEqual({ state: null, replicas: 0, idleSeconds: 0 });
  });
});
