import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApiException,
  AuthorizationV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  loadAllYaml,
  PatchStrategy,
  type V1ClusterRole,
  type V1Container,
  type V1PodSpec,
  type V1PolicyRule,
  type V1Secret,
} from '@kubernetes/client-node';
import { type KubeCluster, startKubernetes, testPrefix, toolBinary } from '@libs/testing';
import { load as loadYaml } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
/* eslint-disable no-restricted-imports -- the chart's env is checked against each app's own env schema */
import { adminApiEnvSchema } from '../../apps/admin-api/src/admin-api.env.js';
import { deployerEnvSchema } from '../../apps/deployer/src/deployer.env.js';
import { gatewayEnvSchema } from '../../apps/gateway/src/gateway.env.js';
import { mongoWriterEnvSchema } from '../../apps/mongo-writer/src/mongo-writer.env.js';
/* eslint-enable no-restricted-imports */
import {
  type KubeconformSchemas,
  writeKubeconformSchemas,
} from '../../libs/testing/src/kubeconform-schemas.js';

const CHART = fileURLToPath(new URL('.', import.meta.url));
const EXTERNAL_VALUES = join(CHART, 'ci/external-values.yaml');
/** The Secrets the external-services values name (`<secret>/<key>`), as an operator would create them. */
const EXTERNAL_SECRETS: Record<string, string> = {
  'kre-external/nats-url': 'nats://nats.shared.svc.cluster.local:4222',
  'kre-external/redis-url': 'redis://:secret@redis.example.com:6379',
  'kre-external/mongo-url': 'mongodb://kre:secret@mongo.example.com:27017/?authSource=admin',
  'kre-smtp/url': 'smtps://kre:secret@smtp.example.com:465',
  'kre-config-key/key': Buffer.alloc(32, 7).toString('base64'),
};

/** What the kubernetes driver uses, and nothing else (the brief of the chart). */
const DEPLOYER_RULES: V1PolicyRule[] = [
  {
    apiGroups: [''],
    resources: [
      'namespaces',
      'serviceaccounts',
      'secrets',
      'services',
      'resourcequotas',
      'limitranges',
    ],
    verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'],
  },
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
  {
    apiGroups: ['apps'],
    resources: ['deployments'],
    verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'],
  },
  {
    apiGroups: ['networking.k8s.io'],
    resources: ['networkpolicies', 'ingresses'],
    verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'],
  },
];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { input?: string; env?: object } = {}) {
  return new Promise<Run>((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

function documents(manifests: string): KubernetesObject[] {
  return (loadAllYaml(manifests) as (KubernetesObject | null)[]).filter(
    (o): o is KubernetesObject => o !== null,
  );
}

const find = (objects: KubernetesObject[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found) throw new Error(`the render has no ${kind} ${name}`);
  return found;
};

const podSpecOf = (o: KubernetesObject) =>
  (o as unknown as { spec: { template: { spec: V1PodSpec } } }).spec.template.spec;

const sortedRules = (rules: V1PolicyRule[]) =>
  rules
    .map((r) => ({
      apiGroups: [...(r.apiGroups ?? [])].sort(),
      resources: [...(r.resources ?? [])].sort(),
      verbs: [...r.verbs].sort(),
    }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

/** The values a container's env resolves to, reading secretKeyRefs from the render or `external`. */
function resolveEnv(
  container: V1Container,
  objects: KubernetesObject[],
  namespace: string,
  external: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom?.secretKeyRef;
    if (variable.value !== undefined) {
      env[variable.name] = variable.value;
    } else if (variable.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') {
      env[variable.name] = namespace;
    } else if (ref) {
      const secret: V1Secret | undefined = objects.find(
        (o) => o.kind === 'Secret' && o.metadata?.name === ref.name,
      );
      const data = secret?.data?.[ref.key];
      const value =
        data === undefined
          ? external[`${ref.name}/${ref.key}`]
          : Buffer.from(data, 'base64').toString();
      if (value === undefined)
        throw new Error(`${variable.name}: no Secret ${ref.name}/${ref.key}`);
      env[variable.name] = value;
    } else {
      throw new Error(
        `${variable.name}: unexpected valueFrom ${JSON.stringify(variable.valueFrom)}`,
      );
    }
  }
  return env;
}

/** The keys an app's env schema reads (the object under any refinements or transforms). */
function schemaKeys(schema: z.ZodType): string[] {
  const inner = 'in' in schema ? (schema as unknown as { in: z.ZodType }).in : schema;
  return Object.keys((inner as unknown as { shape: Record<string, unknown> }).shape);
}

/** Leaf paths of values.yaml, with maps and lists that are values in their own right as leaves. */
function valuePaths(values: Record<string, unknown>, prefix = ''): string[] {
  const maps = new Set(['annotations', 'podAnnotations', 'nodeSelector', 'affinity', 'imageMap']);
  const leaves = new Set([...maps, 'resources', 'resourceQuota', 'requests', 'limits']);
  return Object.entries(values).flatMap(([key, value]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    const nested = value !== null && typeof value === 'object' && !Array.isArray(value);
    if (nested && !leaves.has(key) && !['default', 'defaultRequest'].includes(key)) {
      return valuePaths(value as Record<string, unknown>, path);
    }
    return [path];
  });
}

describe('helm/kre chart', () => {
  let helm: string;
  let kubeconform: string;
  let cluster: KubeCluster;
  let schemas: KubeconformSchemas;
  let work: string;
  let helmEnv: Record<string, string>;
  let objectsApi: KubernetesObjectApi;
  let kubeConfig: KubeConfig;

  beforeAll(async () => {
    helm = toolBinary('helm');
    kubeconform = toolBinary('kubeconform');
    work = mkdtempSync(join(tmpdir(), 'kre-chart-'));
    cluster = await startKubernetes();
    schemas = await writeKubeconformSchemas(cluster.kubeconfig, join(work, 'schemas'));
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(cluster.kubeconfig);
    objectsApi = KubernetesObjectApi.makeApiClient(kubeConfig);
    // Helm keeps its cache, config and data in the scratch folder, never in the user's home.
    helmEnv = {
      HELM_CACHE_HOME: join(work, 'helm/cache'),
      HELM_CONFIG_HOME: join(work, 'helm/config'),
      HELM_DATA_HOME: join(work, 'helm/data'),
      KUBECONFIG: cluster.kubeconfigPath,
    };
  });

  afterAll(async () => {
    await cluster?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const template = (namespace: string, ...args: string[]) =>
    run(helm, ['template', 'kre', CHART, '--namespace', namespace, ...args], { env: helmEnv });

  async function render(namespace: string, ...args: string[]): Promise<string> {
    const result = await template(namespace, ...args);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    return result.stdout;
  }

  /** kubeconform -strict with only the schemas generated from the test API server. */
  async function kubeconformCheck(manifests: string) {
    const result = await run(
      kubeconform,
      ['-strict', '-summary', '-output', 'json', '-schema-location', schemas.location, '-'],
      { input: manifests },
    );
    const report = JSON.parse(result.stdout) as {
      resources?: { kind: string; name: string; status: string; msg: string }[];
      summary: { valid: number; invalid: number; errors: number; skipped: number };
    };
    return { code: result.code, ...report };
  }

  async function newNamespace(name: string, labels: Record<string, string> = {}) {
    await objectsApi.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
    return name;
  }

  it('passes helm lint --strict with the default values and with the external-services values', async () => {
    for (const args of [[], ['-f', EXTERNAL_VALUES]]) {
      const result = await run(helm, ['lint', '--strict', CHART, ...args], { env: helmEnv });
      expect(result.stdout + result.stderr).toContain('0 chart(s) failed');
      expect(result.code).toBe(0);
    }
  });

  it('documents every value of values.yaml in README.md', () => {
    const values = loadYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<
      string,
      unknown
    >;
    const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
    const paths = valuePaths(values);
    expect(paths.length).toBeGreaterThan(100);
    const documented = new Set(
      [...readme.matchAll(/^\| `([^`]+)` +\|/gm)].map((match) => match[1]),
    );
    expect(paths.filter((path) => !documented.has(path))).toEqual([]);
    expect([...documented].filter((path) => !paths.includes(path))).toEqual([]);
  });

  it.each([
    ['the default values', [] as string[]],
    ['external NATS, Redis and MongoDB with ingress TLS', ['-f', EXTERNAL_VALUES]],
  ])(
    'renders, with %s, manifests kubeconform -strict accepts against the API server schemas',
    async (_, args) => {
      const manifests = await render('kre-system', ...args);
      const count = documents(manifests).length;
      const report = await kubeconformCheck(manifests);
      expect(report.resources ?? []).toEqual([]);
      expect(report.summary).toEqual({ valid: count, invalid: 0, errors: 0, skipped: 0 });
      expect(report.code).toBe(0);
      expect(schemas.files).toEqual(
        expect.arrayContaining([
          'deployment-apps-v1.json',
          'statefulset-apps-v1.json',
          'service-v1.json',
          'ingress-networking-v1.json',
          'clusterrole-rbac-v1.json',
        ]),
      );
    },
  );

  it('makes the same kubeconform setup reject a render with an unknown field and a wrong type', async () => {
    // affinity is passed through as given: a typo reaches the pod spec.
    const typo = await render(
      'kre-system',
      '--set-json',
      'gateway.affinity={"nodeAfinity":{"requiredDuringSchedulingIgnoredDuringExecution":{}}}',
    );
    const rejected = await kubeconformCheck(typo);
    expect(rejected.code).toBe(1);
    expect(rejected.summary.invalid).toBe(1);
    expect(rejected.resources).toEqual([
      expect.objectContaining({
        kind: 'Deployment',
        name: 'kre-gateway',
        status: 'statusInvalid',
        msg: expect.stringContaining('nodeAfinity') as string,
      }),
    ]);

    const wrongType = [
      'apiVersion: v1',
      'kind: Service',
      'metadata: { name: bad }',
      'spec:',
      '  ports:',
      '    - { name: http, port: "eighty" }',
    ].join('\n');
    const alsoRejected = await kubeconformCheck(wrongType);
    expect(alsoRejected.code).toBe(1);
    expect(alsoRejected.summary.invalid).toBe(1);
    expect(alsoRejected.resources?.[0]?.msg).toContain('/spec/ports/0/port');

    const wrongApiVersion = 'apiVersion: apps/v1\nkind: Service\nmetadata: { name: bad }\n';
    const missing = await kubeconformCheck(wrongApiVersion);
    expect(missing.code).toBe(1);
    expect(missing.resources?.[0]?.msg).toContain('could not find schema for Service');
  });

  it('refuses values of the wrong type or unknown keys through values.schema.json, naming them', async () => {
    const cases: [string[], RegExp][] = [
      [['--set', 'adminApi.port=eighty'], /\/adminApi\/port': got string, want integer/],
      [['--set', 'kubernetes.resourceQuota.pods=50'], /\/kubernetes\/resourceQuota\/pods/],
      [['--set', 'deployer.jobConcurency=8'], /additional properties 'jobConcurency' not allowed/],
      [['--set', 'kre.prefix=kre--prod'], /\/kre\/prefix': 'kre--prod' does not match/],
    ];
    for (const [args, message] of cases) {
      const result = await template('kre-system', ...args);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(message);
    }
  });

  it.each([
    ['the default values', [] as string[]],
    ['external NATS, Redis and MongoDB with ingress TLS', ['-f', EXTERNAL_VALUES]],
  ])('gives every app, with %s, an environment its own env schema accepts', async (_, args) => {
    const objects = documents(await render('kre-system', ...args));
    const apps: [string, z.ZodType][] = [
      ['admin-api', adminApiEnvSchema],
      ['deployer', deployerEnvSchema],
      ['mongo-writer', mongoWriterEnvSchema],
      ['gateway', gatewayEnvSchema],
    ];
    for (const [app, schema] of apps) {
      const [container] = podSpecOf(find(objects, 'Deployment', `kre-${app}`)).containers;
      const env = resolveEnv(container, objects, 'kre-system', EXTERNAL_SECRETS);
      const parsed = schema.safeParse(env);
      expect(parsed.error?.issues ?? [], app).toEqual([]);
      // A misspelt name would be ignored (and the default used): every name must be one the app reads.
      const known = new Set(schemaKeys(schema));
      expect(
        Object.keys(env).filter((name) => !known.has(name)),
        app,
      ).toEqual([]);
    }
    const deployer = podSpecOf(find(objects, 'Deployment', 'kre-deployer')).containers[0];
    const env = resolveEnv(deployer, objects, 'kre-system', EXTERNAL_SECRETS);
    expect(env['ORCHESTRATOR']).toBe('kubernetes');
    expect(env['KUBE_NAMESPACE']).toBe('kre-system');
  });

  it('points the deployer and runtime pods at the NATS pods the runtime NetworkPolicies allow', async () => {
    const objects = documents(await render('kre-system'));
    const nats = find(objects, 'StatefulSet', 'kre-nats') as unknown as {
      spec: { template: { metadata: { labels: Record<string, string> } } };
    };
    expect(nats.spec.template.metadata.labels['app.kubernetes.io/component']).toBe('nats');
    const env = resolveEnv(
      podSpecOf(find(objects, 'Deployment', 'kre-deployer')).containers[0],
      objects,
      'kre-system',
    );
    expect(env['WORKLOAD_NATS_URL']).toBe('nats://kre-nats.kre-system.svc.cluster.local:4222');
    expect(JSON.parse(env['KUBE_IMAGE_MAP'])).toEqual({});

    const mapped = documents(
      await render('kre-system', '--set-json', 'kubernetes.imageMap={"konstellation/kre-py":""}'),
    );
    const mappedEnv = resolveEnv(
      podSpecOf(find(mapped, 'Deployment', 'kre-deployer')).containers[0],
      mapped,
      'kre-system',
    );
    expect(JSON.parse(mappedEnv['KUBE_IMAGE_MAP'])).toEqual({ 'konstellation/kre-py': null });
  });

  it('is accepted object by object by the API server (server-side apply), pods meeting Pod Security restricted', async () => {
    const namespace = await newNamespace(`${testPrefix()}-kre`, {
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/enforce-version': 'latest',
    });
    const objects = documents(await render(namespace));
    const refused: string[] = [];
    for (const object of objects) {
      try {
        await objectsApi.patch(
          object,
          undefined,
          undefined,
          'kre-test',
          true,
          PatchStrategy.ServerSideApply,
        );
      } catch (error) {
        refused.push(`${object.kind} ${object.metadata?.name}: ${String(error)}`);
      }
    }
    expect(refused).toEqual([]);
    for (const object of objects) {
      const stored = await objectsApi.read({
        apiVersion: object.apiVersion,
        kind: object.kind,
        metadata: { name: object.metadata?.name ?? '', namespace: object.metadata?.namespace },
      });
      expect(stored.metadata?.labels?.['app.kubernetes.io/part-of']).toBe('kre');
    }

    // Nothing runs pods here; a server-side dry run of each pod template goes through the same
    // PodSecurity admission a kubelet-bound pod would.
    const workloads = objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
    expect(workloads).toHaveLength(7);
    const dryRunPod = (name: string, spec: V1PodSpec) =>
      objectsApi.create(
        { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, spec } as KubernetesObject,
        undefined,
        'All',
      );
    for (const workload of workloads) {
      const spec = structuredClone(podSpecOf(workload));
      const claims = (
        workload as unknown as { spec: { volumeClaimTemplates?: { metadata: { name: string } }[] } }
      ).spec.volumeClaimTemplates;
      for (const claim of claims ?? []) {
        spec.volumes = [
          ...(spec.volumes ?? []),
          { name: claim.metadata.name, persistentVolumeClaim: { claimName: claim.metadata.name } },
        ];
      }
      await expect(dryRunPod(`pss-${workload.metadata?.name}`, spec)).resolves.toBeDefined();
    }
    // The same check refuses a pod that is not restricted, so it can fail.
    const loose = structuredClone(podSpecOf(workloads[0]));
    loose.containers[0].securityContext = { allowPrivilegeEscalation: true };
    const error = await dryRunPod('pss-loose', loose).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApiException);
    expect(String((error as ApiException<string>).body)).toContain('violates PodSecurity');
  });

  it('grants the deployer exactly what the kubernetes driver uses, and binds it to its ServiceAccount', async () => {
    const namespace = await newNamespace(`${testPrefix()}-rbac`);
    for (const object of documents(
      await render(namespace, '--show-only', 'templates/deployer-rbac.yaml'),
    )) {
      await objectsApi.patch(
        object,
        undefined,
        undefined,
        'kre-test',
        true,
        PatchStrategy.ServerSideApply,
      );
    }
    const role = await objectsApi.read<V1ClusterRole>({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: `${namespace}-kre-deployer` },
    });
    expect(sortedRules(role.rules ?? [])).toEqual(sortedRules(DEPLOYER_RULES));

    const authorization = kubeConfig.makeApiClient(AuthorizationV1Api);
    const can = async (verb: string, resource: string, group = '', inNamespace = 'kre-rt') => {
      const review = await authorization.createSubjectAccessReview({
        body: {
          spec: {
            user: `system:serviceaccount:${namespace}:kre-deployer`,
            groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`],
            resourceAttributes: { verb, resource, group, namespace: inNamespace },
          },
        },
      });
      return review.status?.allowed ?? false;
    };
    expect(await can('create', 'namespaces', '', '')).toBe(true);
    expect(await can('patch', 'deployments', 'apps')).toBe(true);
    expect(await can('watch', 'pods')).toBe(true);
    expect(await can('delete', 'ingresses', 'networking.k8s.io')).toBe(true);
    expect(await can('create', 'pods')).toBe(false);
    expect(await can('update', 'deployments', 'apps')).toBe(false);
    expect(await can('get', 'configmaps')).toBe(false);
    expect(await can('create', 'clusterroles', 'rbac.authorization.k8s.io', '')).toBe(false);
  });

  it('keeps generated credentials across helm upgrade, and the config key after uninstall', async () => {
    const namespace = await newNamespace(`${testPrefix()}-helm`);
    const helmIn = (...args: string[]) =>
      run(helm, [...args, '--namespace', namespace], { env: helmEnv });
    const secretValue = async (name: string, key: string) => {
      const secret = await objectsApi.read<V1Secret>({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace },
      });
      return Buffer.from(secret.data?.[key] ?? '', 'base64').toString();
    };
    const generated = async () => ({
      configKey: await secretValue('kre-config-key', 'key'),
      redis: await secretValue('kre-redis', 'password'),
      mongo: await secretValue('kre-mongodb', 'password'),
    });

    const install = await helmIn('install', 'kre', CHART);
    expect(install.stderr).toBe('');
    expect(install.code).toBe(0);
    expect(install.stdout).toContain('WARNING: smtp.url is still the placeholder');
    const first = await generated();
    expect(Buffer.from(first.configKey, 'base64')).toHaveLength(32);
    expect(first.redis).toMatch(/^[A-Za-z0-9]{32}$/);

    const upgrade = await helmIn(
      'upgrade',
      'kre',
      CHART,
      '--reuse-values',
      '--set',
      'deployer.jobConcurrency=8',
    );
    expect(upgrade.code).toBe(0);
    expect(await generated()).toEqual(first);

    const uninstall = await helmIn('uninstall', 'kre');
    expect(uninstall.code).toBe(0);
    expect(await secretValue('kre-config-key', 'key')).toBe(first.configKey);
    const redis = await objectsApi
      .read({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'kre-redis', namespace } })
      .then(
        () => 'present',
        (e: unknown) => (e instanceof ApiException && e.code === 404 ? 'deleted' : String(e)),
      );
    expect(redis).toBe('deleted');
  });
});
