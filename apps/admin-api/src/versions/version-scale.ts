import { RUNNING_STATUSES } from '@libs/core';
import type { VersionDoc } from '@libs/persistence';
import { ScaleState, type VersionScale } from './versions.model.js';

/** Replicas the version's KRT asks for: the entrypoint and each node's. */
export function plannedReplicas(version: Pick<VersionDoc, 'krt'>): number {
  return (
    1 +
    version.krt.workflows.reduce(
      (sum, wf) => sum + wf.nodes.reduce((n, node) => n + node.replicas, 0),
      0,
    )
  );
}

/**
 * `Version.scale` from the version's document: its own idle time, and while it runs whether it
 * is awake (as the deployer last wrote it; a version started before scale to zero: AWAKE).
 */
export function versionScaleOf(doc: Pick<VersionDoc, 'status' | 'krt' | 'scale'>): VersionScale {
  const idleSeconds = doc.scale?.idleSeconds ?? null;
  if (!RUNNING_STATUSES.includes(doc.status)) return { state: null, replicas: 0, idleSeconds };
  const state = (doc.scale?.state ?? ScaleState.AWAKE) as ScaleState;
  const replicas = state === ScaleState.AWAKE ? (doc.scale?.replicas ?? plannedReplicas(doc)) : 0;
  return { state, replicas, idleSeconds };
}

/** A node's autoscaling bounds on the version's document, null when it has none. */
export function autoscaleOf(
  doc: Pick<VersionDoc, 'scale'>,
  workflow: string,
  node: string,
): { min: number; max: number } | null {
  const entry = doc.scale?.autoscale?.find((a) => a.workflow === workflow && a.node === node);
  return entry ? { min: entry.min, max: entry.max } : null;
}

/** The entrypoint's autoscaling bounds on the version's document, null when it has none. */
export function entrypointAutoscaleOf(
  doc: Pick<VersionDoc, 'scale'>,
): { min: number; max: number } | null {
  const bounds = doc.scale?.entrypointAutoscale;
  return bounds ? { min: bounds.min, max: bounds.max } : null;
}
