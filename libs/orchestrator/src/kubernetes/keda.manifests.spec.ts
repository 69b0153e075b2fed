import { describe, expect, it } from 'vitest';
import { scaledObjectManifest, type KedaOptions } from './keda.manifests.js';

const keda: KedaOptions = {
  natsMonitoringEndpoint: 'kre-nats.kre.svc:8222',
  account: 'ACCOUNTKEY',
  useHttps: false,
};
const node = {
  workload: {
    id: 'greet.make-greeting',
    k8sName: 'v-greeter-v1-greet-make-greeting-abc123',
    labels: {
      'kre.io/runtime': 'rt',
      'kre.io/version': 'greeter-v1',
      'kre.io/node': 'make-greeting',
    },
  },
  bounds: { min: 2, max: 7 },
  inputs: [
    { stream: 'KRE_rt_greeter-v1_greet', consumer: 'make-greeting_clean-name' },
    { stream: 'KRE_rt_greeter-v1_greet', consumer: 'make-greeting_entrypoint' },
  ],
};

describe(scaledObjectManifest.name, () => {
  const sut = scaledObjectManifest(keda, 'kre-rt', node, {
    target: 32,
    upAfterMs: 2_000,
    coolDownMs: 59_500,
  });

  it("targets the node's Deployment by name, with its labels, in the runtime's namespace", () => {
    expect(sut).toMatchObject({
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: node.workload.k8sName, namespace: 'kre-rt', labels: node.workload.labels },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: node.workload.k8sName },
        minReplicaCount: 2,
        maxReplicaCount: 7,
      },
    });
  });

  it("has one nats-jetstream trigger per consumer, its lag threshold the deployer's target backlog", () => {
    expect(sut.spec.triggers).toEqual(
      node.inputs.map((input) => ({
        type: 'nats-jetstream',
        metadata: {
          natsServerMonitoringEndpoint: 'kre-nats.kre.svc:8222',
          account: 'ACCOUNTKEY',
          stream: input.stream,
          consumer: input.consumer,
          lagThreshold: '32',
          useHttps: 'false',
        },
      })),
    );
  });

  it('takes the up window and the cool-down as the HPA stabilization windows, in whole seconds', () => {
    expect(sut.spec).toMatchObject({
      cooldownPeriod: 60,
      advanced: {
        restoreToOriginalReplicaCount: false,
        horizontalPodAutoscalerConfig: {
          behavior: {
            scaleUp: { stabilizationWindowSeconds: 2, selectPolicy: 'Max' },
            scaleDown: { stabilizationWindowSeconds: 60 },
          },
        },
      },
    });
  });
});
