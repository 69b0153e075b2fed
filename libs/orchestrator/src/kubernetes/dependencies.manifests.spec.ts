import type {
  V1Deployment,
  V1NetworkPolicy,
  V1NetworkPolicyEgressRule,
} from '@kubernetes/client-node';
import { validateKrtDirectory } from '@libs/krt';
import { describe, expect, it } from 'vitest';
import { plan } from '../deployment-plan.js';
import { testOptions } from './options.fixture.js';
import { runtimeManifests } from './runtime.manifests.js';
import { versionManifests } from './version.manifests.js';

/** On Kubernetes a KRT's dependencies are installed by each pod's fetch step, not the deployer. */
describe('dependency installation on Kubernetes', () => {
  it('runs in the init container of every pod, with no service-account token and no secrets', async () => {
    const { krt } = await validateKrtDirectory('examples/greeter');
    const options = testOptions();
    const objects = versionManifests(
      options,
      plan({
        prefix: 'kre',
        runtimeId: 'demo',
        krt,
        natsUrl: 'nats://127.0.0.1:4222',
        config: { variables: { GREETING: 'Hi' }, files: {} },
        requestTimeoutSeconds: 30,
      }),
    );
    const deployments = objects.filter((o): o is V1Deployment => o.kind === 'Deployment');
    expect(deployments.length).toBeGreaterThan(1);
    for (const deployment of deployments) {
      const pod = deployment.spec!.template.spec!;
      expect(pod.automountServiceAccountToken).toBe(false);
      const [fetch] = pod.initContainers!;
      expect(fetch.name).toBe('fetch-krt');
      const env = Object.fromEntries((fetch.env ?? []).map((e) => [e.name, e.value]));
      expect(env).toMatchObject({
        KRT_NPM_REGISTRY: options.dependencies.registry,
        KRT_NPM_TIMEOUT_SECONDS: '600',
      });
      // Nothing secret reaches the step that runs npm: no Secret refs, no config values.
      expect((fetch.env ?? []).every((e) => e.valueFrom === undefined)).toBe(true);
      expect(fetch.envFrom).toBeUndefined();
      expect(JSON.stringify(fetch)).not.toContain('Hi');
      expect(fetch.securityContext?.allowPrivilegeEscalation).toBe(false);
    }
  });

  it('lets runtime pods reach the registry only by the egress rules the operator gives', () => {
    const policies = (registryEgress: V1NetworkPolicyEgressRule[]) =>
      runtimeManifests(
        testOptions({
          dependencies: {
            registry: 'https://npm.mirror.internal/',
            registryEgress,
            timeoutSeconds: 60,
            pypiIndexUrl: 'https://pypi.mirror.internal/simple',
          },
        }),
        'demo',
      ).filter((o): o is V1NetworkPolicy => o.kind === 'NetworkPolicy');
    expect(policies([]).map((p) => p.metadata?.name)).not.toContain('allow-registry');
    const rule = {
      to: [{ ipBlock: { cidr: '10.20.0.5/32' } }],
      ports: [{ protocol: 'TCP', port: 4873 }],
    };
    const registry = policies([rule]).find((p) => p.metadata?.name === 'allow-registry');
    expect(registry?.spec).toEqual({ podSelector: {}, policyTypes: ['Egress'], egress: [rule] });
  });
});
