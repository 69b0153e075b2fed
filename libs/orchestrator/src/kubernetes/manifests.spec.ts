import type { V1Deployment, V1Ingress, V1Secret, V1Service } from '@kubernetes/client-node';
import { validateKrtDirectory, type Krt } from '@libs/krt';
import { K8S_NAME_MAX } from '@libs/naming';
import { beforeAll, describe, expect, it } from 'vitest';
import { plan, type DeploymentPlan } from '../deployment-plan.js';
import {
  ImageNotAllowedError,
  UnsupportedImageError,
  imageRepository,
  resolveImage,
} from './images.js';
import { testOptions } from './options.fixture.js';
import { runtimeManifests } from './runtime.manifests.js';
import { publishedManifests, versionManifests } from './version.manifests.js';

const SECRET_GREETING = 'Hello-from-a-secret-7f3a';

let greeter: Krt;
let classifier: Krt;

beforeAll(async () => {
  greeter = (await validateKrtDirectory('examples/greeter')).krt;
  classifier = (await validateKrtDirectory('examples/classifier')).krt;
});

function planOf(krt: Krt, variables: Record<string, string>, files: Record<string, string> = {}) {
  return plan({
    prefix: 'kre',
    runtimeId: 'demo',
    krt,
    natsUrl: 'nats://127.0.0.1:4222',
    config: { variables, files },
    requestTimeoutSeconds: 30,
  });
}

const deployments = (p: DeploymentPlan, options = testOptions()) =>
  versionManifests(options, p).filter((o): o is V1Deployment => o.kind === 'Deployment');

describe('images', () => {
  it('maps KRE images by repository, whatever the tag, and runs others only when allowed', () => {
    const images = testOptions().images;
    expect(resolveImage(images, 'entrypoint', 'konstellation/kre-entrypoint:v7')).toBe(
      images.entrypoint,
    );
    expect(resolveImage(images, 'wf.n', 'kre/runner-node:latest')).toBe(images.runner);
    // Any other image would run with the nodes' pull credentials and without our runner.
    expect(() => resolveImage(images, 'wf.n', 'team/custom-runner:2')).toThrow(
      ImageNotAllowedError,
    );
    expect(() => resolveImage(images, 'wf.n', 'evil.io/team/custom-runner:2')).toThrow(
      /workload "wf.n" uses image "evil.io\/team\/custom-runner:2".*KUBE_ALLOWED_IMAGES/,
    );
    const allowing = { ...images, allowed: ['team/custom-runner', 'reg.io/ml/*'] };
    expect(resolveImage(allowing, 'wf.n', 'team/custom-runner:2')).toBe('team/custom-runner:2');
    expect(resolveImage(allowing, 'wf.n', 'reg.io/ml/gpu-runner:1')).toBe('reg.io/ml/gpu-runner:1');
    expect(() => resolveImage(allowing, 'wf.n', 'reg.io/other/x:1')).toThrow(ImageNotAllowedError);
  });

  it("maps KRE's Python images to our Python runner", () => {
    const images = testOptions().images;
    for (const image of ['konstellation/kre-py:v3.4.1', 'kre/runner-python:latest'])
      expect(resolveImage(images, 'wf.model', image)).toBe(images.runnerPython);
  });

  it("refuses KRE's Go image with an error naming the workload and the image", () => {
    expect(() =>
      resolveImage(testOptions().images, 'wf.model', 'konstellation/kre-go:1.0'),
    ).toThrow(UnsupportedImageError);
    expect(() =>
      resolveImage(testOptions().images, 'wf.model', 'konstellation/kre-go:1.0'),
    ).toThrow(/workload "wf.model" uses image "konstellation\/kre-go:1.0"/);
  });

  it('finds the repository of references with a registry port and a digest', () => {
    expect(imageRepository('reg.io:5000/team/img:1.2@sha256:abc')).toBe('reg.io:5000/team/img');
    expect(imageRepository('reg.io:5000/team/img')).toBe('reg.io:5000/team/img');
  });
});

describe('runtime manifests', () => {
  it('gives each runtime its own restricted namespace, a tokenless account and default-deny', () => {
    const objects = runtimeManifests(testOptions(), 'demo');
    const ns = objects.find((o) => o.kind === 'Namespace')!;
    expect(ns.metadata?.name).toBe('kre-demo');
    expect(ns.metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    expect(objects.find((o) => o.kind === 'ServiceAccount')).toMatchObject({
      automountServiceAccountToken: false,
    });
    expect(objects.find((o) => o.metadata?.name === 'default-deny')).toMatchObject({
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    });
    expect(
      objects.every((o) => o.kind === 'Namespace' || o.metadata?.namespace === 'kre-demo'),
    ).toBe(true);
    expect(objects.map((o) => o.kind)).toEqual(
      expect.arrayContaining(['ResourceQuota', 'LimitRange']),
    );
  });

  it('creates no quota or limit range when the installation sets none', () => {
    const objects = runtimeManifests(
      testOptions({ resourceQuota: {}, limitRange: { default: {}, defaultRequest: {} } }),
      'demo',
    );
    expect(objects.map((o) => o.kind)).not.toContain('ResourceQuota');
    expect(objects.map((o) => o.kind)).not.toContain('LimitRange');
  });
});

describe('version manifests', () => {
  it('renders a Secret, a Deployment per workload and the entrypoint Service', () => {
    const p = planOf(greeter, { GREETING: SECRET_GREETING });
    const objects = versionManifests(testOptions(), p);
    expect(objects.map((o) => o.kind)).toEqual([
      'Secret',
      'Deployment',
      'Deployment',
      'Deployment',
      'Deployment',
      'Service',
    ]);
    for (const object of objects) {
      expect(object.metadata?.namespace).toBe('kre-demo');
      expect(object.metadata!.name!.length).toBeLessThanOrEqual(K8S_NAME_MAX);
      expect(object.metadata?.labels).toMatchObject({
        'kre.io/runtime': 'demo',
        'kre.io/version': 'greeter-v1',
        'app.kubernetes.io/managed-by': 'kre-deployer',
      });
    }
  });

  it('keeps config values in the Secret only', () => {
    const p = planOf(greeter, { GREETING: SECRET_GREETING });
    const objects = versionManifests(testOptions(), p);
    const secret = objects[0] as V1Secret;
    expect(secret.stringData).toEqual({ GREETING: SECRET_GREETING });
    for (const d of deployments(p)) {
      expect(JSON.stringify(d)).not.toContain(SECRET_GREETING);
      expect(d.spec!.template.spec!.containers[0].env).toContainEqual({
        name: 'GREETING',
        valueFrom: { secretKeyRef: { name: secret.metadata!.name, key: 'GREETING' } },
      });
    }
  });

  it('rolls the pods when the config changes and only then', () => {
    const hashes = (variables: Record<string, string>) =>
      deployments(planOf(greeter, variables)).map(
        (d) => d.spec!.template.metadata!.annotations!['kre.io/spec-hash'],
      );
    expect(hashes({ GREETING: 'a' })).toEqual(hashes({ GREETING: 'a' }));
    const before = hashes({ GREETING: 'a' });
    const after = hashes({ GREETING: 'b' });
    before.forEach((hash, i) => expect(after[i]).not.toBe(hash));
  });

  it('runs every container restricted, fetching the KRT first, with probes on /readyz and /livez', () => {
    const options = testOptions();
    for (const d of deployments(planOf(classifier, {}), options)) {
      const pod = d.spec!.template.spec!;
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(pod.initContainers).toHaveLength(1);
      const [init] = pod.initContainers!;
      expect(init).toMatchObject({
        name: 'fetch-krt',
        image: options.images.runner,
        args: ['fetch-krt'],
      });
      for (const c of [...pod.initContainers!, ...pod.containers]) {
        expect(c.securityContext).toEqual({
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
      }
      const [main] = pod.containers;
      expect(main.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'health' });
      expect(main.livenessProbe?.httpGet).toMatchObject({ path: '/livez', port: 'health' });
      expect(main.env).toContainEqual({ name: 'KRT_NATS_SERVER', value: options.workloadNatsUrl });
      expect(main.env).toContainEqual({ name: 'KRT_BASE_PATH', value: '/krt/current' });
      expect(init.env).toContainEqual({ name: 'KRT_BASE_PATH', value: '/krt/current' });
    }
  });

  it('makes every workload listen on the pod address (probes and Services reach it there)', () => {
    for (const d of deployments(planOf(classifier, {}))) {
      const [main] = d.spec!.template.spec!.containers;
      expect(main.env).toContainEqual({ name: 'KRT_LISTEN_HOST', value: '0.0.0.0' });
    }
  });

  it("passes traces on as the plan has them: the runtime's traces subject, never an OTLP endpoint", () => {
    const traced = plan({
      prefix: 'kre',
      runtimeId: 'demo',
      krt: classifier,
      natsUrl: 'nats://127.0.0.1:4222',
      config: { variables: {}, files: {} },
      requestTimeoutSeconds: 30,
      tracing: { scheduleDelayMs: 1_000 },
    });
    for (const d of deployments(traced)) {
      const env = d.spec!.template.spec!.containers[0].env ?? [];
      expect(env).toContainEqual({ name: 'KRT_NATS_TRACES_SUBJECT', value: 'kre.demo.traces' });
      expect(env).toContainEqual({ name: 'OTEL_BSP_SCHEDULE_DELAY', value: '1000' });
      expect(env.filter((e) => e.name.startsWith('OTEL_EXPORTER'))).toEqual([]);
    }
    for (const d of deployments(planOf(classifier, {})))
      expect(d.spec!.template.spec!.containers[0].env).not.toContainEqual(
        expect.objectContaining({ name: 'KRT_NATS_TRACES_SUBJECT' }),
      );
  });

  it('gives gpu nodes a GPU limit, the GPU node selector and tolerations', () => {
    const gpuKrt: Krt = {
      ...greeter,
      workflows: greeter.workflows.map((wf) => ({
        ...wf,
        nodes: wf.nodes.map((n, i) => ({ ...n, gpu: i === 0 })),
      })),
    };
    const options = testOptions();
    const [, gpuNode, cpuNode] = deployments(planOf(gpuKrt, { GREETING: 'x' }), options);
    expect(gpuNode.spec!.template.spec!.containers[0].resources?.limits?.['nvidia.com/gpu']).toBe(
      '1',
    );
    expect(gpuNode.spec!.template.spec!.nodeSelector).toEqual(options.gpu.nodeSelector);
    expect(gpuNode.spec!.template.spec!.tolerations).toEqual(options.gpu.tolerations);
    expect(
      cpuNode.spec!.template.spec!.containers[0].resources?.limits?.['nvidia.com/gpu'],
    ).toBeUndefined();
    expect(cpuNode.spec!.template.spec!.nodeSelector).toBeUndefined();
  });

  it('refuses a version whose node needs a runner this installation lacks', () => {
    const goKrt: Krt = {
      ...greeter,
      workflows: greeter.workflows.map((wf) => ({
        ...wf,
        nodes: wf.nodes.map((n) => ({ ...n, image: 'konstellation/kre-go:v3' })),
      })),
    };
    expect(() => versionManifests(testOptions(), planOf(goKrt, { GREETING: 'x' }))).toThrow(
      UnsupportedImageError,
    );
  });

  describe('Python nodes', () => {
    /** The greeter with kre-py nodes: the first has its own requirements, the others none. */
    const pythonGreeter = (): Krt => ({
      ...greeter,
      requirements: ['src/py0/requirements.txt'],
      workflows: greeter.workflows.map((wf) => ({
        ...wf,
        nodes: wf.nodes.map((n, i) => ({
          ...n,
          image: 'konstellation/kre-py:v3.4.1',
          src: `src/py${i}/main.py`,
        })),
      })),
    });

    it('runs our Python runner image and its venv, and installs requirements in an init step', () => {
      const options = testOptions();
      const [first, second] = deployments(
        planOf(pythonGreeter(), { GREETING: SECRET_GREETING }),
        options,
      ).filter((d) => d.metadata?.annotations?.['kre.io/workload'] !== 'entrypoint');
      const pod = first.spec!.template.spec!;
      const [main] = pod.containers;
      expect(main.image).toBe(options.images.runnerPython);
      expect(main.command).toEqual(['/opt/kre/venv/bin/python', '-s', '-P', '-m', 'kre_runner']);
      expect(main.workingDir).toBe('/krt/current');
      expect(pod.initContainers!.map((c) => c.name)).toEqual(['fetch-krt', 'install-requirements']);
      const install = pod.initContainers![1];
      expect(install.image).toBe(options.images.runnerPython);
      expect(install.command).toEqual(
        expect.arrayContaining([
          '/opt/kre/venv/bin/python',
          '--only-binary=:all:',
          `--index-url=${options.dependencies.pypiIndexUrl}`,
        ]),
      );
      expect(install.command!.slice(0, 2)).toEqual(['timeout', '600']);
      const env = Object.fromEntries((install.env ?? []).map((e) => [e.name, e.value]));
      expect(env).toEqual({
        HOME: '/tmp',
        PIP_CONFIG_FILE: '/dev/null',
        PIP_REQUIREMENT: '/krt/current/src/py0/requirements.txt',
        PIP_TARGET: '/deps/site-packages',
      });
      // No Secret, no config value, no token in the step that runs pip.
      expect(JSON.stringify(install)).not.toContain(SECRET_GREETING);
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(install.securityContext).toMatchObject({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
      });
      expect(install.volumeMounts).toEqual([
        { name: 'krt', mountPath: '/krt', readOnly: true },
        { name: 'deps', mountPath: '/deps' },
        { name: 'tmp', mountPath: '/tmp' },
      ]);
      expect(main.volumeMounts).toContainEqual({
        name: 'deps',
        mountPath: '/deps',
        readOnly: true,
      });
      expect(main.env).toContainEqual({ name: 'PYTHONPATH', value: '/deps/site-packages' });
      expect(pod.volumes).toContainEqual({ name: 'deps', emptyDir: {} });

      // A Python node without requirements: no install step, no deps volume, no PYTHONPATH.
      const plain = second.spec!.template.spec!;
      expect(plain.initContainers!.map((c) => c.name)).toEqual(['fetch-krt']);
      expect(plain.containers[0].image).toBe(options.images.runnerPython);
      expect(plain.containers[0].env!.map((e) => e.name)).not.toContain('PYTHONPATH');
      expect(plain.volumes!.map((v) => v.name)).not.toContain('deps');
    });
  });

  it('mounts config files from the Secret', () => {
    const krt: Krt = { ...greeter, config: { variables: ['GREETING'], files: ['MODEL_FILE'] } };
    const p = planOf(krt, { GREETING: 'x' }, { MODEL_FILE: 'weights' });
    const [secret] = versionManifests(testOptions(), p) as [V1Secret];
    expect(secret.stringData).toMatchObject({ 'file.MODEL_FILE': 'weights' });
    const pod = deployments(p)[0].spec!.template.spec!;
    expect(pod.volumes).toContainEqual({
      name: 'config',
      secret: {
        secretName: secret.metadata!.name,
        items: [{ key: 'file.MODEL_FILE', path: 'MODEL_FILE' }],
      },
    });
  });

  it('keeps a 1 MiB config file out of every container env: it is only in the Secret, as a file', () => {
    const krt: Krt = { ...greeter, config: { variables: ['GREETING'], files: ['MODEL_FILE'] } };
    const weights = 'w'.repeat(1024 * 1024);
    const p = planOf(krt, { GREETING: 'x' }, { MODEL_FILE: weights });
    const [secret] = versionManifests(testOptions(), p) as [V1Secret];
    // Once, as the file the pods mount (not a second time as a variable of the same name).
    expect(secret.stringData).toEqual({ GREETING: 'x', 'file.MODEL_FILE': weights });
    for (const d of deployments(p)) {
      const pod = d.spec!.template.spec!;
      for (const c of [...pod.initContainers!, ...pod.containers]) {
        expect(c.env?.map((e) => e.name)).not.toContain('MODEL_FILE');
        expect(
          c.env?.flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef.key] : [])),
        ).not.toContain('file.MODEL_FILE');
        expect(JSON.stringify(c.env)).not.toContain('www');
      }
      expect(pod.volumes).toContainEqual({
        name: 'config',
        secret: {
          secretName: secret.metadata!.name,
          items: [{ key: 'file.MODEL_FILE', path: 'MODEL_FILE' }],
        },
      });
    }
  });
});

describe('published manifests', () => {
  it("is the stable entrypoint Service alone without an ingress domain: an ExternalName onto the installation's gateway", () => {
    const [service, ...rest] = publishedManifests(testOptions(), 'demo', 'greeter-v1') as [
      V1Service,
    ];
    expect(rest).toEqual([]);
    expect(service.metadata?.name).toBe('entrypoint');
    expect(service.metadata?.annotations).toEqual({ 'kre.io/published-version': 'greeter-v1' });
    // Never the entrypoint's pods: the gateway (keys, limits, wake-up) is the way in.
    expect(service.spec).toEqual({
      type: 'ExternalName',
      externalName: 'kre-gateway.kre.svc.cluster.local',
      ports: [
        { name: 'grpc', port: 9000, appProtocol: 'grpc' },
        { name: 'http', port: 9080, appProtocol: 'http' },
      ],
    });
  });

  it('adds an Ingress for <runtime>.<domain> with the class, annotations and TLS of the installation', () => {
    const options = testOptions({
      ingress: {
        controllerNamespace: 'ingress-nginx',
        domain: 'kre.example.com',
        className: 'nginx',
        annotations: { 'cert-manager.io/cluster-issuer': 'letsencrypt' },
        tlsSecret: 'wildcard-tls',
      },
    });
    const ingress = publishedManifests(options, 'demo', 'greeter-v1')[1] as V1Ingress;
    expect(ingress.spec).toMatchObject({
      ingressClassName: 'nginx',
      tls: [{ hosts: ['demo.kre.example.com'], secretName: 'wildcard-tls' }],
      rules: [{ host: 'demo.kre.example.com' }],
    });
    expect(ingress.spec?.rules?.[0].http?.paths[0].backend.service).toEqual({
      name: 'entrypoint',
      port: { number: 9080 },
    });
    expect(ingress.metadata?.annotations).toMatchObject({
      'cert-manager.io/cluster-issuer': 'letsencrypt',
      'kre.io/published-version': 'greeter-v1',
    });
  });
});
