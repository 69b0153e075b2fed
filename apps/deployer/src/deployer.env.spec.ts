import { randomBytes } from 'node:crypto';
import { InvalidEnvError, loadEnv } from '@libs/config';
import { describe, expect, it } from 'vitest';
import { deployerEnvSchema } from './deployer.env.js';
import { kubernetesOptions } from './orchestrator.provider.js';

const base = {
  MONGO_URL: 'mongodb://127.0.0.1:27017',
  REDIS_URL: 'redis://127.0.0.1:6379',
  NATS_URL: 'nats://127.0.0.1:4222',
  NATS_CREDS: '/run/kre/app.creds',
  NATS_AUTHORITY_FILE: '/run/kre/authority.json',
  CONFIG_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
};

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadEnv('deployer', deployerEnvSchema, { ...base, ...env });
  } catch (error) {
    if (error instanceof InvalidEnvError) return error.problems;
    throw error;
  }
  return [];
}

describe('the deployer env of the kubernetes driver', () => {
  it('turns KUBE_* settings into driver options, KRE images mapped to ours', () => {
    const env = loadEnv('deployer', deployerEnvSchema, {
      ...base,
      ORCHESTRATOR: 'kubernetes',
      KUBE_NAMESPACE: 'kre-system',
      WORKLOAD_NATS_URL: 'nats://kre-nats.kre-system.svc:4222',
      KUBE_RUNNER_IMAGE: 'ghcr.io/acme/kre-runner:1.2.3',
      KUBE_IMAGE_MAP:
        '{"acme/legacy": "ghcr.io/acme/legacy:2", "konstellation/kre-go": "ghcr.io/acme/go:1"}',
      KUBE_INGRESS_DOMAIN: 'kre.acme.io',
      KUBE_RESOURCE_QUOTA: '{"pods": "20"}',
      KUBE_GPU_TOLERATIONS: '[]',
    });
    const options = kubernetesOptions(env);
    expect(options).toMatchObject({
      installationNamespace: 'kre-system',
      workloadNatsUrl: 'nats://kre-nats.kre-system.svc:4222',
      resourceQuota: { pods: '20' },
      ingress: { domain: 'kre.acme.io', controllerNamespace: 'ingress-nginx', annotations: {} },
      gpu: { tolerations: [], nodeSelector: { 'nvidia.com/gpu.present': 'true' } },
    });
    expect(options.images.map).toMatchObject({
      'kre/runner-node': 'ghcr.io/acme/kre-runner:1.2.3',
      'acme/legacy': 'ghcr.io/acme/legacy:2',
      'konstellation/kre-go': 'ghcr.io/acme/go:1',
      'konstellation/kre-py': 'kre/runner-python:latest',
    });
  });

  it('defaults the workloads NATS URL to the deployer own', () => {
    const env = loadEnv('deployer', deployerEnvSchema, base);
    expect(kubernetesOptions(env).workloadNatsUrl).toBe(base.NATS_URL);
  });

  it('names the variable and the path of a bad JSON setting', () => {
    expect(
      problemsOf({
        KUBE_RESOURCE_QUOTA: '{pods: 20}',
        KUBE_LIMIT_RANGE: '{"default": {"memory": 512}}',
        KUBE_GPU_TOLERATIONS: '[{"effect": "Sometimes"}]',
      }),
    ).toEqual([
      'KUBE_RESOURCE_QUOTA: must be JSON',
      'KUBE_LIMIT_RANGE.default.memory: Invalid input: expected string, received number',
      expect.stringMatching(/^KUBE_GPU_TOLERATIONS\.0\.effect: /),
    ]);
  });
});

describe('the deployer env of scale to zero', () => {
  it('defaults VERSION_IDLE_SECONDS to 0 (never sleep) and refuses what is not a count of seconds', () => {
    expect(loadEnv('deployer', deployerEnvSchema, base).VERSION_IDLE_SECONDS).toBe(0);
    expect(
      loadEnv('deployer', deployerEnvSchema, { ...base, VERSION_IDLE_SECONDS: '300' })
        .VERSION_IDLE_SECONDS,
    ).toBe(300);
    for (const wrong of ['-1', '1.5', 'soon', '2592001'])
      expect(problemsOf({ VERSION_IDLE_SECONDS: wrong })).toEqual([
        expect.stringMatching(/^VERSION_IDLE_SECONDS: /),
      ]);
  });
});

describe('the deployer env of node autoscaling', () => {
  it('defaults to HPA-like figures and refuses, by name, what cannot be a backlog or a duration', () => {
    const env = loadEnv('deployer', deployerEnvSchema, base);
    expect([
      env.AUTOSCALE_TARGET_BACKLOG,
      env.AUTOSCALE_UP_AFTER_SECONDS,
      env.AUTOSCALE_COOLDOWN_SECONDS,
    ]).toEqual([32, 2, 60]);
    expect(
      loadEnv('deployer', deployerEnvSchema, { ...base, AUTOSCALE_COOLDOWN_SECONDS: '1.5' })
        .AUTOSCALE_COOLDOWN_SECONDS,
    ).toBe(1.5);
    expect(problemsOf({ AUTOSCALE_TARGET_BACKLOG: '0' })).toEqual([
      expect.stringMatching(/^AUTOSCALE_TARGET_BACKLOG: /),
    ]);
    expect(problemsOf({ AUTOSCALE_UP_AFTER_SECONDS: 'soon' })).toEqual([
      expect.stringMatching(/^AUTOSCALE_UP_AFTER_SECONDS: /),
    ]);
    expect(problemsOf({ AUTOSCALE_COOLDOWN_SECONDS: '-1' })).toEqual([
      expect.stringMatching(/^AUTOSCALE_COOLDOWN_SECONDS: /),
    ]);
  });
});

describe('the deployer env of KEDA', () => {
  it('hands nodes to KEDA by default, NATS monitoring at the workloads NATS host on 8222', () => {
    const env = loadEnv('deployer', deployerEnvSchema, {
      ...base,
      WORKLOAD_NATS_URL: 'nats://kre-nats.kre-system.svc:4222',
    });
    expect(kubernetesOptions(env, 'ACCOUNTKEY').keda).toEqual({
      natsMonitoringEndpoint: 'kre-nats.kre-system.svc:8222',
      account: 'ACCOUNTKEY',
      useHttps: false,
    });
    // Without the installation account (the authority) there is nothing to point KEDA at.
    expect(kubernetesOptions(env).keda).toBeUndefined();
  });

  it('takes KUBE_KEDA=off and a monitoring endpoint of its own, and refuses one with a scheme', () => {
    const env = loadEnv('deployer', deployerEnvSchema, {
      ...base,
      KUBE_KEDA_NATS_MONITORING_ENDPOINT: 'nats-monitor.kre.svc:8223',
    });
    expect(kubernetesOptions(env, 'ACCOUNTKEY').keda?.natsMonitoringEndpoint).toBe(
      'nats-monitor.kre.svc:8223',
    );
    const off = loadEnv('deployer', deployerEnvSchema, { ...base, KUBE_KEDA: 'off' });
    expect(kubernetesOptions(off, 'ACCOUNTKEY').keda).toBeUndefined();
    expect(problemsOf({ KUBE_KEDA_NATS_MONITORING_ENDPOINT: 'http://nats:8222' })).toEqual([
      'KUBE_KEDA_NATS_MONITORING_ENDPOINT: must be host:port (no scheme)',
    ]);
    expect(problemsOf({ KUBE_KEDA: 'on' })).toEqual([expect.stringMatching(/^KUBE_KEDA: /)]);
  });
});
