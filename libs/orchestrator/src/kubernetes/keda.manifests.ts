import type { KubernetesObject } from '@kubernetes/client-node';
import type { ExternallyScaledNode } from '../driver.js';
import type { AutoscalerOptions } from '../scaling/replica-autoscaler.js';

/** KEDA's API group and version, and the resource the deployer renders. */
export const KEDA_API_GROUP = 'keda.sh';
export const KEDA_API_VERSION = 'v1alpha1';
export const SCALED_OBJECTS = 'scaledobjects';
export const SCALED_OBJECT_KIND = 'ScaledObject';

/** How KEDA's `nats-jetstream` scaler reaches the installation's NATS (docs/kubernetes.md, "KEDA"). */
export interface KedaOptions {
  /** `host:port` of the NATS server's monitoring endpoint (`/jsz`), as KEDA's operator reaches it. */
  readonly natsMonitoringEndpoint: string;
  /** The NATS account that holds the workflow streams (the installation account's public key). */
  readonly account: string;
  readonly useHttps: boolean;
}

/** HPA's sync period: scale-up policies are counted per period (one step per sync at most). */
const HPA_PERIOD_SECONDS = 15;
/** KEDA polls for activation only (min >= 1 here): the HPA reads the metric on its own period. */
const POLLING_INTERVAL_SECONDS = 5;

/**
 * The `ScaledObject` that makes KEDA scale one node's Deployment (same name, same labels) with
 * the policy the deployer applies itself when the cluster has no KEDA: one `nats-jetstream`
 * trigger per input consumer, whose lag is KEDA's `num_pending + num_ack_pending` (the
 * deployer's backlog) with `lagThreshold` the target backlog per replica; `min..max` from the
 * MANAGER's bounds (min >= 1: sleeping is the version's, not KEDA's); the up window and the
 * cool-down as the HPA's stabilization windows, at most doubling (or one more) per HPA period.
 * With several inputs the HPA takes the largest count any trigger wants (the deployer sums them).
 */
export function scaledObjectManifest(
  keda: KedaOptions,
  namespace: string,
  node: ExternallyScaledNode,
  policy: AutoscalerOptions,
): KubernetesObject & { spec: Record<string, unknown> } {
  const { workload, bounds } = node;
  return {
    apiVersion: `${KEDA_API_GROUP}/${KEDA_API_VERSION}`,
    kind: SCALED_OBJECT_KIND,
    metadata: {
      name: workload.k8sName,
      namespace,
      labels: { ...workload.labels },
      annotations: { 'kre.io/workload': workload.id },
    },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: workload.k8sName },
      pollingInterval: POLLING_INTERVAL_SECONDS,
      cooldownPeriod: Math.ceil(policy.coolDownMs / 1_000),
      minReplicaCount: bounds.min,
      maxReplicaCount: bounds.max,
      advanced: {
        // A ScaledObject removed (stop, sleep, bounds taken away) leaves the count as it is.
        restoreToOriginalReplicaCount: false,
        horizontalPodAutoscalerConfig: {
          behavior: {
            scaleUp: {
              stabilizationWindowSeconds: Math.ceil(policy.upAfterMs / 1_000),
              selectPolicy: 'Max',
              policies: [
                { type: 'Percent', value: 100, periodSeconds: HPA_PERIOD_SECONDS },
                { type: 'Pods', value: 1, periodSeconds: HPA_PERIOD_SECONDS },
              ],
            },
            scaleDown: { stabilizationWindowSeconds: Math.ceil(policy.coolDownMs / 1_000) },
          },
        },
      },
      triggers: node.inputs.map((input) => ({
        type: 'nats-jetstream',
        metadata: {
          natsServerMonitoringEndpoint: keda.natsMonitoringEndpoint,
          account: keda.account,
          stream: input.stream,
          consumer: input.consumer,
          lagThreshold: String(policy.target),
          useHttps: String(keda.useHttps),
        },
      })),
    },
  };
}
