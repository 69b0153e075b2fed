import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApiException,
  AppsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  loadAllYaml,
  PatchStrategy,
  type V1ClusterRole,
  type V1Container,
  type V1Deployment,
  type V1ContainerPort,
  type V1Ingress,
  type V1LabelSelector,
  type V1NetworkPolicy,
  type V1PodSpec,
  type V1PolicyRule,
  type V1Secret,
  type V1Service,
} from '@kubernetes/client-node';
import { validateKrtDirectory } from '@libs/krt';
import { parseNatsAuthority, publicKeys } from '@libs/messaging';
import { KubernetesDriver, plan } from '@libs/orchestrator';
import {
  freePort,
  type KubeCluster,
  markDeploymentsAvailable,
  startKubernetes,
  testPrefix,
  toolBinary,
} from '@libs/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { load as loadYaml } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
/* eslint-disable no-restricted-imports -- the chart's env is checked against each app's own env schema */
import { adminApiEnvSchema } from '../../apps/admin-api/src/admin-api.env.js';
import { deployerEnvSchema } from '../../apps/deployer/src/deployer.env.js';
import { gatewayEnvSchema } from '../../apps/gateway/src/gateway.env.js';
import { mongoWriterEnvSchema } from '../../apps/mongo-writer/src/mongo-writer.env.js';
import { kubernetesOptions } from '../../apps/deployer/src/orchestrator.provider.js';
/* eslint-enable no-restricted-imports */
import {
  accountJwt,
  createNatsAuthority,
  mintSystemUser,
  mintUser,
} from '../../libs/messaging/src/auth/nats-authority.js';
import { testOptions } from '../../libs/orchestrator/src/kubernetes/options.fixture.js';
import { runtimeManifests } from '../../libs/orchestrator/src/kubernetes/runtime.manifests.js';
import {
  type KubeconformSchemas,
  writeKubeconformSchemas,
} from '../../libs/testing/src/kubeconform-schemas.js';

const CHART = fileURLToPath(new URL('.', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const EXTERNAL_VALUES = join(CHART, 'ci/external-values.yaml');
/** The Secret of the NATS identities (scripts/nats-auth.ts k8s-secret), which every render needs. */
const NATS_AUTH_SECRET = 'kre-nats-auth';
const NATS_AUTH = ['--set', `nats.auth.existingSecret=${NATS_AUTH_SECRET}`];
const ENGINE_APPS = ['admin-api', 'deployer', 'gateway', 'mongo-writer'] as const;
/** The Secrets the external-services values name (`<secret>/<key>`), as an operator would create them. */
const EXTERNAL_SECRETS: Record<string, string> = {
  'kre-external/nats-url': 'nats://nats.shared.svc.cluster.local:4222',
  'kre-external/redis-url': 'redis://:secret@redis.example.com:6379',
  'kre-external/mongo-url': 'mongodb://kre:secret@mongo.example.com:27017/?authSource=admin',
  'kre-smtp/url': 'smtps://kre:secret@smtp.example.com:465',
  'kre-config-key/key': Buffer.alloc(32, 7).toString('base64'),
};

/**
 * The deployer's cluster-wide rights (issue #12): runtime namespaces themselves, the RoleBinding it
 * puts in each, and `bind` on the one ClusterRole that binding names. No Secret, no workload.
 */
const deployerClusterRules = (runtimeRole: string): V1PolicyRule[] => [
  {
    apiGroups: [''],
    resources: ['namespaces'],
    verbs: ['get', 'list', 'create', 'patch', 'delete'],
  },
  {
    apiGroups: ['rbac.authorization.k8s.io'],
    resources: ['rolebindings'],
    verbs: ['create', 'patch'],
  },
  {
    apiGroups: ['rbac.authorization.k8s.io'],
    resources: ['clusterroles'],
    verbs: ['bind'],
    resourceNames: [runtimeRole],
  },
];

/** Its rights inside a runtime namespace: what the kubernetes driver calls there, and nothing else. */
const DEPLOYER_RUNTIME_RULES: V1PolicyRule[] = [
  {
    apiGroups: [''],
    resources: ['serviceaccounts', 'resourcequotas', 'limitranges'],
    verbs: ['create', 'patch'],
  },
  { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['create', 'patch'] },
  { apiGroups: [''], resources: ['secrets'], verbs: ['create', 'patch', 'list', 'delete'] },
  {
    apiGroups: [''],
    resources: ['services'],
    verbs: ['create', 'patch', 'get', 'list', 'delete'],
  },
  {
    apiGroups: ['apps'],
    resources: ['deployments'],
    verbs: ['create', 'patch', 'list', 'watch', 'delete'],
  },
  {
    apiGroups: ['networking.k8s.io'],
    resources: ['ingresses'],
    verbs: ['create', 'patch', 'get', 'delete'],
  },
  { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
];

/** A refusal by the chart's ValidatingAdmissionPolicy (not by RBAC), with its message. */
const byPolicy = (message: RegExp) =>
  new RegExp(
    `^403 .* is forbidden: ValidatingAdmissionPolicy '[^']+' with binding '[^']+' denied request: .*${message.source}`,
    's',
  );
/** A refusal by RBAC. */
const byRbac = (verb: string, resource: string) =>
  new RegExp(`^403 .*cannot ${verb} resource "${resource}"`, 's');

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
      resourceNames: [...(r.resourceNames ?? [])].sort(),
    }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

/** What the API server answers a call: `allowed`, or the code and message of its refusal. */
async function outcome(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
    return 'allowed';
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    const body = String((error as ApiException<string>).body);
    let message = body;
    try {
      const status = JSON.parse(body) as { message?: unknown };
      if (typeof status.message === 'string') message = status.message;
    } catch {
      // not a Status document
    }
    return `${error.code} ${message}`;
  }
}

const matches = (selector: V1LabelSelector | undefined, labels: Record<string, string>) =>
  Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
  (selector?.matchExpressions ?? []).every((e) => {
    const value = labels[e.key];
    switch (e.operator) {
      case 'In':
        return value !== undefined && (e.values ?? []).includes(value);
      case 'NotIn':
        return value === undefined || !(e.values ?? []).includes(value);
      case 'Exists':
        return value !== undefined;
      case 'DoesNotExist':
        return value === undefined;
      default:
        throw new Error(`unknown operator ${e.operator}`);
    }
  });

/** A pod, as NetworkPolicies see it. */
interface PodRef {
  namespace: string;
  namespaceLabels: Record<string, string>;
  labels: Record<string, string>;
  ports?: V1ContainerPort[];
}

/**
 * Whether the NetworkPolicies admit a TCP connection from one pod to a port of another (the
 * standard's ingress semantics: a pod selected by no ingress policy admits everything; else a
 * rule must match the port and the peer). Nothing here runs a CNI, so the render is judged.
 */
function admits(policies: V1NetworkPolicy[], from: PodRef, to: PodRef, port: number): boolean {
  const applying = policies.filter(
    (p) =>
      p.metadata?.namespace === to.namespace &&
      matches(p.spec?.podSelector, to.labels) &&
      (p.spec?.policyTypes ?? ['Ingress']).includes('Ingress'),
  );
  if (applying.length === 0) return true;
  const portMatches = (p: { port?: number | string; protocol?: string }) =>
    (p.protocol ?? 'TCP') === 'TCP' &&
    (p.port === undefined ||
      p.port === port ||
      (to.ports ?? []).some((c) => c.name === p.port && c.containerPort === port));
  return applying.some((policy) =>
    (policy.spec?.ingress ?? []).some(
      (rule) =>
        (rule.ports === undefined || rule.ports.some(portMatches)) &&
        (rule._from === undefined ||
          rule._from.some((peer) => {
            const namespaceOk = peer.namespaceSelector
              ? matches(peer.namespaceSelector, from.namespaceLabels)
              : from.namespace === policy.metadata?.namespace;
            return namespaceOk && (!peer.podSelector || matches(peer.podSelector, from.labels));
          })),
    ),
  );
}

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
  const maps = new Set([
    'annotations',
    'podAnnotations',
    'nodeSelector',
    'affinity',
    'imageMap',
    'scrapeNamespaceLabels',
    'operatorNamespaceLabels',
  ]);
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
    run(helm, ['template', 'kre', CHART, '--namespace', namespace, ...NATS_AUTH, ...args], {
      env: helmEnv,
    });

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
    for (const args of [NATS_AUTH, ['-f', EXTERNAL_VALUES]]) {
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

  it("gives admin-api and the deployer the installation's runtime quota, and admin-api and mongo-writer the retention", async () => {
    const envOf = (objects: KubernetesObject[], name: string) =>
      resolveEnv(podSpecOf(find(objects, 'Deployment', name)).containers[0], objects, 'kre-system');
    const quotaOf = (env: Record<string, string>) =>
      Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('RUNTIME_QUOTA_')));
    const defaults = documents(await render('kre-system'));
    const expected = {
      RUNTIME_QUOTA_REPLICAS: '32',
      RUNTIME_QUOTA_MEMORY: '32Gi',
      RUNTIME_QUOTA_CPU: '32',
      RUNTIME_QUOTA_GPUS: '0',
      RUNTIME_QUOTA_STORAGE: '16Gi',
      RUNTIME_QUOTA_OBS_BYTES: '1Gi',
      RUNTIME_QUOTA_OBS_MAX_AGE: '7d',
    };
    expect(quotaOf(envOf(defaults, 'kre-admin-api'))).toEqual(expected);
    expect(quotaOf(envOf(defaults, 'kre-deployer'))).toEqual(expected);
    const set = documents(
      await render(
        'kre-system',
        '--set',
        'runtimeQuota.gpus=2',
        '--set',
        'runtimeQuota.memory=8Gi',
        '--set',
        'runtimeQuota.observabilityMaxAge=36h',
        '--set',
        'observability.retentionDays=7',
      ),
    );
    for (const app of ['kre-admin-api', 'kre-deployer'])
      expect(quotaOf(envOf(set, app))).toMatchObject({
        RUNTIME_QUOTA_GPUS: '2',
        RUNTIME_QUOTA_MEMORY: '8Gi',
        RUNTIME_QUOTA_OBS_MAX_AGE: '36h',
      });
    for (const app of ['kre-admin-api', 'kre-mongo-writer'])
      expect(envOf(set, app).OBS_RETENTION_DAYS).toBe('7');
    // The schema refuses what the apps would refuse at start.
    const refused = await template('kre-system', '--set', 'runtimeQuota.memory=lots');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/runtimeQuota/);
    const age = await template('kre-system', '--set', 'runtimeQuota.observabilityMaxAge=7days');
    expect(age.code).not.toBe(0);
    expect(age.stderr).toMatch(/observabilityMaxAge/);
  });

  it('gives every app the OTLP endpoint when one is set, and none by default (no tracing)', async () => {
    const apps = ['kre-admin-api', 'kre-deployer', 'kre-gateway', 'kre-mongo-writer'];
    const envOf = (objects: KubernetesObject[], name: string) =>
      resolveEnv(podSpecOf(find(objects, 'Deployment', name)).containers[0], objects, 'kre-system');
    const defaults = documents(await render('kre-system'));
    for (const app of apps)
      expect(envOf(defaults, app)).not.toHaveProperty('OTEL_EXPORTER_OTLP_ENDPOINT');
    const endpoint = 'http://otel-collector.observability:4318';
    const set = documents(await render('kre-system', '--set', `kre.otlpEndpoint=${endpoint}`));
    for (const app of apps) expect(envOf(set, app).OTEL_EXPORTER_OTLP_ENDPOINT).toBe(endpoint);
    const refused = await template('kre-system', '--set', 'kre.otlpEndpoint=otel:4318');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/otlpEndpoint/);
  });

  it("points a Prometheus at each app's /metrics by pod annotations, beside the app's own", async () => {
    const annotationsOf = (objects: KubernetesObject[], name: string) =>
      (find(objects, 'Deployment', name) as V1Deployment).spec?.template.metadata?.annotations;
    const objects = documents(
      await render('kre-system', '--set', 'gateway.podAnnotations.team=data'),
    );
    for (const [app, port] of [
      ['kre-admin-api', '9464'],
      ['kre-deployer', '8081'],
      ['kre-mongo-writer', '8082'],
      ['kre-gateway', '9081'],
    ])
      expect(annotationsOf(objects, app), app).toMatchObject({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': port,
        'prometheus.io/path': '/metrics',
      });
    expect(annotationsOf(objects, 'kre-gateway')).toMatchObject({ team: 'data' });
    const off = documents(await render('kre-system', '--set', 'metrics.scrapeAnnotations=false'));
    expect(annotationsOf(off, 'kre-deployer')).toBeUndefined();
  });

  it("keeps admin-api's /metrics off its public port, and lets only the named namespaces scrape", async () => {
    const objects = documents(await render('kre-system'));
    const adminApi = podSpecOf(find(objects, 'Deployment', 'kre-admin-api')).containers[0];
    expect(resolveEnv(adminApi, objects, 'kre-system').ADMIN_API_METRICS_PORT).toBe('9464');
    expect(adminApi.ports?.map((p) => [p.name, p.containerPort])).toEqual([
      ['http', 8080],
      ['metrics', 9464],
    ]);
    // The Service (which the Ingress routes to) has the API's port only.
    const service = find(objects, 'Service', 'kre-admin-api') as V1Service;
    expect(service.spec?.ports?.map((p) => p.targetPort)).toEqual(['http']);
    const policyNames = (objs: KubernetesObject[]) =>
      objs.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.metadata?.name);
    expect(policyNames(objects)).not.toContain('kre-metrics-scrape');
    const scraped = documents(
      await render(
        'kre-system',
        '--set',
        'metrics.scrapeNamespaceLabels.kubernetes\\.io/metadata\\.name=monitoring',
      ),
    );
    const policy = find(scraped, 'NetworkPolicy', 'kre-metrics-scrape') as V1NetworkPolicy;
    expect(policy.spec?.ingress).toMatchObject([
      {
        _from: [
          { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
        ],
        ports: [
          { protocol: 'TCP', port: 'metrics' },
          { protocol: 'TCP', port: 'health' },
        ],
      },
    ]);
    expect(policy.spec?.podSelector?.matchExpressions).toContainEqual({
      key: 'app.kubernetes.io/component',
      operator: 'In',
      values: ['admin-api', 'deployer', 'mongo-writer', 'gateway'],
    });
  });

  it('serves the admin API Ingress over TLS unless TLS is turned off explicitly', async () => {
    const tlsOf = async (...args: string[]) => {
      const objects = documents(
        await render('kre-system', '--set', 'adminApi.ingress.enabled=true', ...args),
      );
      const ingress = find(objects, 'Ingress', 'kre-admin-api') as V1Ingress;
      const env = resolveEnv(
        podSpecOf(find(objects, 'Deployment', 'kre-admin-api')).containers[0],
        objects,
        'kre-system',
      );
      return { tls: ingress.spec?.tls, frontendUrl: env['FRONTEND_URL'] };
    };
    expect(await tlsOf()).toEqual({
      tls: [{ hosts: ['kre.example.com'], secretName: 'kre-admin-api-tls' }],
      frontendUrl: 'https://kre.example.com',
    });
    expect(await tlsOf('--set', 'adminApi.ingress.tls.secretName=custom-tls')).toMatchObject({
      tls: [{ secretName: 'custom-tls' }],
    });
    expect(await tlsOf('--set', 'adminApi.ingress.tls.enabled=false')).toEqual({
      tls: undefined,
      frontendUrl: 'http://kre.example.com',
    });
  });

  it("keeps NATS's monitoring port out of its Service and its pod's ports, only the kubelet's probes use it", async () => {
    const objects = documents(await render('kre-system'));
    const services = objects.filter(
      (o): o is V1Service =>
        o.kind === 'Service' && o.metadata?.name?.startsWith('kre-nats') === true,
    );
    expect(services).toHaveLength(2);
    for (const service of services) {
      expect(service.spec?.ports?.map((p) => p.port)).toEqual([4222]);
    }
    const [nats] = podSpecOf(find(objects, 'StatefulSet', 'kre-nats')).containers;
    expect(nats.ports?.map((p) => p.containerPort)).toEqual([4222]);
    expect(nats.readinessProbe?.httpGet?.port).toBe(8222);
  });

  it("opens NATS's monitoring port to KEDA's namespace alone and lets the deployer write ScaledObjects only with deployer.autoscale.keda.enabled", async () => {
    const runtimeRole = (objects: KubernetesObject[]) =>
      objects.find(
        (o): o is V1ClusterRole =>
          o.kind === 'ClusterRole' &&
          (o as V1ClusterRole).rules?.some((r) => r.resources?.includes('deployments')) === true,
      );
    const natsPolicy = (objects: KubernetesObject[]) =>
      find(objects, 'NetworkPolicy', 'kre-nats') as V1NetworkPolicy;
    const deployerEnv = (objects: KubernetesObject[]) =>
      podSpecOf(find(objects, 'Deployment', 'kre-deployer')).containers[0].env ?? [];

    const off = documents(await render('kre-system'));
    expect(deployerEnv(off)).toContainEqual({ name: 'KUBE_KEDA', value: 'off' });
    expect(sortedRules(runtimeRole(off)?.rules ?? [])).toEqual(sortedRules(DEPLOYER_RUNTIME_RULES));
    expect(
      natsPolicy(off).spec?.ingress?.flatMap((rule) => rule.ports?.map((p) => p.port)),
    ).toEqual(['client']);

    const on = documents(
      await render(
        'kre-system',
        '--set',
        'deployer.autoscale.keda.enabled=true',
        '--set',
        'deployer.autoscale.keda.operatorNamespaceLabels.team=autoscalers',
      ),
    );
    expect(deployerEnv(on)).toContainEqual({ name: 'KUBE_KEDA', value: 'auto' });
    expect(sortedRules(runtimeRole(on)?.rules ?? [])).toEqual(
      sortedRules([
        ...DEPLOYER_RUNTIME_RULES,
        {
          apiGroups: ['keda.sh'],
          resources: ['scaledobjects'],
          verbs: ['create', 'patch', 'list', 'delete'],
        },
      ]),
    );
    const service = find(on, 'Service', 'kre-nats') as V1Service;
    expect(service.spec?.ports?.map((p) => [p.name, p.port])).toEqual([
      ['client', 4222],
      ['monitor', 8222],
    ]);
    // The headless Service (the pods' own names) stays client-only.
    expect(
      (find(on, 'Service', 'kre-nats-headless') as V1Service).spec?.ports?.map((p) => p.port),
    ).toEqual([4222]);
    const [nats] = podSpecOf(find(on, 'StatefulSet', 'kre-nats')).containers;
    expect(nats.ports?.map((p) => [p.name, p.containerPort])).toEqual([
      ['client', 4222],
      ['monitor', 8222],
    ]);
    // Port 8222 from KEDA's namespace only; 4222 as before.
    const rules = natsPolicy(on).spec?.ingress ?? [];
    expect(rules.map((rule) => rule.ports?.map((p) => p.port))).toEqual([['client'], ['monitor']]);
    expect(rules[1]._from).toEqual([
      { namespaceSelector: { matchLabels: { team: 'autoscalers' } } },
    ]);
  });

  it("admits to the release's pods only the traffic KRE needs (NetworkPolicies)", async () => {
    const objects = documents(await render('kre-system'));
    const policies = objects.filter((o): o is V1NetworkPolicy => o.kind === 'NetworkPolicy');
    const releaseNamespace = { 'kubernetes.io/metadata.name': 'kre-system' };
    const pod = (component: string): PodRef => {
      const workload = objects.find(
        (o) =>
          (o.kind === 'Deployment' || o.kind === 'StatefulSet') &&
          o.metadata?.labels?.['app.kubernetes.io/component'] === component,
      ) as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } };
      return {
        namespace: 'kre-system',
        namespaceLabels: releaseNamespace,
        labels: workload.spec.template.metadata.labels,
        ports: podSpecOf(workload as unknown as KubernetesObject).containers.flatMap(
          (c) => c.ports ?? [],
        ),
      };
    };
    const [adminApi, deployer, mongoWriter, gateway, nats, redis, mongodb] = [
      'admin-api',
      'deployer',
      'mongo-writer',
      'gateway',
      'nats',
      'redis',
      'mongodb',
    ].map(pod);
    // A pod of one of this installation's runtimes, labelled as the deployer labels its namespace.
    const runtimeNamespace = runtimeManifests(
      testOptions({ prefix: 'kre', installationNamespace: 'kre-system' }),
      'rt',
    ).find((o) => o.kind === 'Namespace')!;
    const runtimePod: PodRef = {
      namespace: 'kre-rt',
      namespaceLabels: {
        ...runtimeNamespace.metadata?.labels,
        'kubernetes.io/metadata.name': 'kre-rt',
      },
      labels: { 'app.kubernetes.io/component': 'entrypoint' },
    };
    const elsewhere = (namespace: string): PodRef => ({
      namespace,
      namespaceLabels: { 'kubernetes.io/metadata.name': namespace },
      labels: { app: 'something' },
    });
    const ingressController = elsewhere('ingress-nginx');
    const stranger = elsewhere('default');
    const neighbour: PodRef = {
      ...stranger,
      namespace: 'kre-system',
      namespaceLabels: releaseNamespace,
    };

    const allowed = (to: PodRef, port: number, ...from: PodRef[]) =>
      from.map((peer) => admits(policies, peer, to, port));
    // The admin API: from the ingress controller only.
    expect(allowed(adminApi, 8080, ingressController)).toEqual([true]);
    expect(allowed(adminApi, 8080, stranger, neighbour, runtimePod, gateway)).toEqual([
      false,
      false,
      false,
      false,
    ]);
    // The gateway: from anywhere, on its HTTP and gRPC ports only.
    expect(allowed(gateway, 9080, stranger, runtimePod, ingressController)).toEqual([
      true,
      true,
      true,
    ]);
    expect(allowed(gateway, 9000, stranger)).toEqual([true]);
    expect(allowed(gateway, 9081, stranger)).toEqual([false]);
    // NATS: clients from the apps and this installation's runtimes; monitoring from no one.
    expect(allowed(nats, 4222, adminApi, deployer, mongoWriter, gateway, runtimePod)).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(allowed(nats, 4222, stranger, neighbour, ingressController)).toEqual([
      false,
      false,
      false,
    ]);
    expect(allowed(nats, 8222, deployer, runtimePod, stranger)).toEqual([false, false, false]);
    // A runtime's entrypoint: from this installation's gateway only; the ingress controller and
    // everyone else reach the runtime through the gateway (its stable Service and Ingress).
    const withRuntime = [
      ...policies,
      ...runtimeManifests(
        testOptions({ prefix: 'kre', installationNamespace: 'kre-system' }),
        'rt',
      ).filter((o): o is V1NetworkPolicy => o.kind === 'NetworkPolicy'),
    ];
    for (const port of [8080, 9000]) {
      expect(
        [gateway, ingressController, stranger, neighbour].map((peer) =>
          admits(withRuntime, peer, runtimePod, port),
        ),
      ).toEqual([true, false, false, false]);
    }
    // Redis and MongoDB: only the apps that use them.
    expect(allowed(redis, 6379, adminApi, deployer)).toEqual([true, true]);
    expect(allowed(redis, 6379, mongoWriter, gateway, runtimePod, stranger)).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(allowed(mongodb, 27017, adminApi, deployer, mongoWriter)).toEqual([true, true, true]);
    expect(allowed(mongodb, 27017, gateway, runtimePod, stranger)).toEqual([false, false, false]);
    // Health ports: the kubelet only (NetworkPolicies always admit the node).
    expect(allowed(deployer, 8081, stranger, neighbour)).toEqual([false, false]);
    expect(allowed(mongoWriter, 8082, stranger)).toEqual([false]);
    // Another installation's runtimes are strangers.
    const otherRuntime: PodRef = {
      ...runtimePod,
      namespaceLabels: { ...runtimePod.namespaceLabels, 'kre.io/installation': 'other' },
    };
    expect(allowed(nats, 4222, otherRuntime)).toEqual([false]);

    const off = documents(await render('kre-system', '--set', 'networkPolicy.enabled=false'));
    expect(off.filter((o) => o.kind === 'NetworkPolicy')).toEqual([]);
    const external = documents(await render('kre-system', '-f', EXTERNAL_VALUES));
    expect(external.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.metadata?.name)).toEqual(
      ['kre-default-deny', 'kre-admin-api', 'kre-gateway'],
    );
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

  it('refuses to render without the Secret of the NATS identities, naming the command that makes it', async () => {
    for (const args of [
      [],
      ['--set', 'nats.enabled=false', '--set', 'nats.external.existingSecret=x'],
    ]) {
      const result = await run(
        helm,
        ['template', 'kre', CHART, '--namespace', 'kre-system', ...args],
        { env: helmEnv },
      );
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('nats.auth.existingSecret is required');
      expect(result.stderr).toContain(
        'scripts/nats-auth.ts k8s-secret kre kre-nats-auth kre-system | kubectl apply --server-side -f -',
      );
    }
  });

  it.each([
    ['the default values', [] as string[]],
    ['external NATS', ['-f', EXTERNAL_VALUES]],
  ])(
    'mounts, with %s, into each app only its own NATS credentials, the authority into the deployer only, auth.conf into NATS only',
    async (_, args) => {
      const objects = documents(await render('kre-system', ...args));
      /** The Secret's keys a pod template mounts, by mount path (secret and projected volumes). */
      const mounted = (workload: KubernetesObject) => {
        const spec = podSpecOf(workload);
        const files: Record<
          string,
          { keys: string[]; modes: (number | undefined)[]; readOnly?: boolean }
        > = {};
        for (const volume of spec.volumes ?? []) {
          const sources = [
            ...(volume.secret
              ? [
                  {
                    ...volume.secret,
                    name: volume.secret.secretName,
                    defaultMode: volume.secret.defaultMode,
                  },
                ]
              : []),
            ...(volume.projected?.sources ?? []).flatMap((source) =>
              source.secret
                ? [{ ...source.secret, defaultMode: volume.projected?.defaultMode }]
                : [],
            ),
          ].filter((source) => source.name === NATS_AUTH_SECRET);
          if (sources.length === 0) continue;
          const mounts = spec.containers.flatMap((c) =>
            (c.volumeMounts ?? []).filter((m) => m.name === volume.name),
          );
          expect(mounts, workload.metadata?.name).toHaveLength(1);
          files[mounts[0].mountPath] = {
            // Without items, a Secret volume would carry every key.
            keys: sources
              .flatMap((source) => (source.items ?? [{ key: '*', path: '*' }]).map((i) => i.key))
              .sort(),
            modes: sources.map((source) => source.defaultMode),
            readOnly: mounts[0].readOnly,
          };
        }
        return files;
      };
      for (const app of ENGINE_APPS) {
        const deployment = find(objects, 'Deployment', `kre-${app}`);
        const authority = app === 'deployer' ? ['authority.json'] : [];
        expect(mounted(deployment), app).toEqual({
          '/etc/kre/nats': {
            keys: [`${app}.creds`, ...authority].sort(),
            modes: [0o440],
            readOnly: true,
          },
        });
        const env = resolveEnv(
          podSpecOf(deployment).containers[0],
          objects,
          'kre-system',
          EXTERNAL_SECRETS,
        );
        expect(env['NATS_CREDS'], app).toBe(`/etc/kre/nats/${app}.creds`);
        expect(env['NATS_AUTHORITY_FILE'], app).toBe(
          app === 'deployer' ? '/etc/kre/nats/authority.json' : undefined,
        );
      }
      const others = objects.filter(
        (o) =>
          (o.kind === 'Deployment' || o.kind === 'StatefulSet') &&
          !ENGINE_APPS.some((app) => o.metadata?.name === `kre-${app}`),
      );
      for (const workload of others) {
        expect(mounted(workload), workload.metadata?.name).toEqual(
          workload.metadata?.name === 'kre-nats'
            ? { '/etc/nats': { keys: ['auth.conf'], modes: [0o440], readOnly: true } }
            : {},
        );
      }
      const nats = objects.find((o) => o.kind === 'StatefulSet' && o.metadata?.name === 'kre-nats');
      if (args.length > 0) {
        expect(nats).toBeUndefined();
        return;
      }
      // nats.conf (the ConfigMap, in the same folder) includes auth.conf by a relative path: the
      // server joins an include's path to the including file's folder.
      expect(podSpecOf(nats!).containers[0].args).toEqual(['--config', '/etc/nats/nats.conf']);
      const config = find(objects, 'ConfigMap', 'kre-nats') as { data?: Record<string, string> };
      expect(config.data?.['nats.conf']).toMatch(/^include \.\/auth\.conf$/m);
      expect(config.data?.['nats.conf']).not.toMatch(
        /^\s*(authorization|no_auth_user|operator|accounts|resolver)\b/m,
      );
    },
  );

  it('generates with scripts/nats-auth.ts k8s-secret a Secret whose auth.conf and credentials a real nats-server, configured by the chart, accepts; anonymous connections refused', async () => {
    const generated = await run(join(REPO, 'node_modules/.bin/node'), [
      join(REPO, 'scripts/nats-auth.ts'),
      'k8s-secret',
      'acme',
      NATS_AUTH_SECRET,
      'kre-system',
    ]);
    expect(generated.stderr).toBe('');
    expect(generated.code).toBe(0);
    const report = await kubeconformCheck(generated.stdout);
    expect(report.resources ?? []).toEqual([]);
    expect(report.summary).toMatchObject({ valid: 1, invalid: 0, errors: 0 });
    const secret = JSON.parse(generated.stdout) as V1Secret;
    expect(secret.metadata).toMatchObject({ name: NATS_AUTH_SECRET, namespace: 'kre-system' });
    const files = Object.fromEntries(
      Object.entries(secret.data ?? {}).map(([key, value]) => [
        key,
        Buffer.from(value, 'base64').toString(),
      ]),
    );
    expect(Object.keys(files).sort()).toEqual(
      ['auth.conf', 'authority.json', ...ENGINE_APPS.map((app) => `${app}.creds`)].sort(),
    );
    const authority = parseNatsAuthority(files['authority.json']);
    const auth = files['auth.conf'];
    expect(auth).toContain('max_control_line: 65536');
    expect(auth).toContain(`system_account: "${publicKeys(authority).systemAccount}"`);
    expect(auth).toMatch(/resolver \{ type: full, dir: "\/data\/resolver"/);
    expect(auth).toContain(`${publicKeys(authority).account}: "`);

    // The chart's own nats.conf, with loopback ports and this test's folders for the pod's.
    const dir = mkdtempSync(join(work, 'nats-'));
    const [port, monitorPort] = [await freePort(), await freePort()];
    const chartConfig = (
      find(documents(await render('kre-system')), 'ConfigMap', 'kre-nats') as {
        data: Record<string, string>;
      }
    ).data['nats.conf'];
    const config = chartConfig
      .replace('listen: 0.0.0.0:4222', `listen: 127.0.0.1:${port}`)
      .replace('http: 0.0.0.0:8222', `http: 127.0.0.1:${monitorPort}`)
      .replace('store_dir: /data', `store_dir: ${JSON.stringify(join(dir, 'data'))}`);
    expect(config).not.toBe(chartConfig);
    mkdirSync(join(dir, 'etc'));
    writeFileSync(join(dir, 'etc/nats.conf'), config);
    writeFileSync(
      join(dir, 'etc/auth.conf'),
      auth.replace('"/data/resolver"', JSON.stringify(join(dir, 'data/resolver'))),
    );
    const server = spawn(toolBinary('nats-server'), ['--config', join(dir, 'etc/nats.conf')], {
      env: { ...process.env, POD_NAME: 'kre-nats-0' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    server.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const connections: NatsConnection[] = [];
    try {
      const deadline = Date.now() + 20_000;
      while (
        !(await fetch(`http://127.0.0.1:${monitorPort}/healthz`).then(
          (r) => r.ok,
          () => false,
        ))
      ) {
        if (Date.now() > deadline || server.exitCode !== null)
          throw new Error(`nats-server did not start:\n${log}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const servers = `nats://127.0.0.1:${port}`;
      const as = async (creds: string) => {
        const nc = await connect({
          servers,
          authenticator: credsAuthenticator(new TextEncoder().encode(creds)),
          maxReconnectAttempts: 0,
        });
        connections.push(nc);
        return nc;
      };
      const refusal = (attempt: Promise<unknown>) =>
        attempt.then(
          () => 'accepted',
          (error: unknown) =>
            /authorization violation/i.test(String(error)) ? 'refused' : String(error),
        );

      // Each app's identity is accepted; the deployer's reaches JetStream in the account.
      for (const app of ENGINE_APPS) {
        await expect((await as(files[`${app}.creds`])).rtt()).resolves.toBeGreaterThanOrEqual(0);
      }
      const deployer = await as(files['deployer.creds']);
      expect((await (await jetstreamManager(deployer)).getAccountInfo()).limits).toBeDefined();
      // Anonymous, and a user of another operator: refused.
      expect(await refusal(connect({ servers, maxReconnectAttempts: 0 }))).toBe('refused');
      const stranger = await mintUser(createNatsAuthority(), 'stranger', {
        pub: ['>'],
        sub: ['>'],
      });
      expect(await refusal(as(stranger.creds))).toBe('refused');
      // The deployer's revocations go through the system account and the full resolver: revoke
      // the gateway's key, and the gateway's credentials no longer connect.
      const system = await as(await mintSystemUser(authority));
      const gatewayKey = /-----BEGIN NATS USER JWT-----\s*(\S+)/.exec(files['gateway.creds'])![1];
      const { sub: gatewayUser } = JSON.parse(
        Buffer.from(gatewayKey.split('.')[1], 'base64url').toString(),
      ) as { sub: string };
      const update = await system.request(
        '$SYS.REQ.CLAIMS.UPDATE',
        await accountJwt(authority, { [gatewayUser]: Math.floor(Date.now() / 1_000) }),
        { timeout: 5_000 },
      );
      expect(update.json<{ error?: unknown }>().error).toBeUndefined();
      expect(await refusal(as(files['gateway.creds']))).toBe('refused');
      expect(await refusal(as(files['mongo-writer.creds']))).toBe('accepted');
    } finally {
      await Promise.all(connections.map((nc) => nc.close()));
      server.kill('SIGTERM');
    }
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

  async function serverSideApply(objects: KubernetesObject[]) {
    for (const object of objects) {
      await objectsApi.patch(
        object,
        undefined,
        undefined,
        'kre-test',
        true,
        PatchStrategy.ServerSideApply,
      );
    }
  }

  it('grants the deployer cluster-wide only namespaces, RoleBindings and bind on one ClusterRole; Secrets and workloads only where that role is bound', async () => {
    const namespace = await newNamespace(`${testPrefix()}-rbac`);
    await serverSideApply(
      documents(await render(namespace, '--show-only', 'templates/deployer-rbac.yaml')),
    );
    const runtimeRole = `kre-runtime-deployer:${namespace}:kre`;
    const clusterRole = await objectsApi.read<V1ClusterRole>({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: `${namespace}-kre-deployer` },
    });
    expect(sortedRules(clusterRole.rules ?? [])).toEqual(
      sortedRules(deployerClusterRules(runtimeRole)),
    );
    const inRuntimes = await objectsApi.read<V1ClusterRole>({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: runtimeRole },
    });
    expect(sortedRules(inRuntimes.rules ?? [])).toEqual(sortedRules(DEPLOYER_RUNTIME_RULES));

    const authorization = kubeConfig.makeApiClient(AuthorizationV1Api);
    const can = async (verb: string, resource: string, group = '', inNamespace = '', name = '') => {
      const review = await authorization.createSubjectAccessReview({
        body: {
          spec: {
            user: `system:serviceaccount:${namespace}:kre-deployer`,
            groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`],
            resourceAttributes: { verb, resource, group, namespace: inNamespace, name },
          },
        },
      });
      return review.status?.allowed ?? false;
    };
    // Cluster-wide: namespaces and its RoleBindings (the admission policy confines both).
    expect(await can('create', 'namespaces')).toBe(true);
    expect(await can('patch', 'namespaces', '', '', 'kube-system')).toBe(true);
    expect(await can('create', 'rolebindings', 'rbac.authorization.k8s.io', 'kre-rt')).toBe(true);
    expect(await can('bind', 'clusterroles', 'rbac.authorization.k8s.io', '', runtimeRole)).toBe(
      true,
    );
    expect(
      await can('bind', 'clusterroles', 'rbac.authorization.k8s.io', '', 'cluster-admin'),
    ).toBe(false);
    expect(await can('escalate', 'clusterroles', 'rbac.authorization.k8s.io')).toBe(false);
    expect(await can('create', 'clusterrolebindings', 'rbac.authorization.k8s.io')).toBe(false);
    // No Secret, no workload anywhere until a runtime namespace binds the runtime role.
    for (const [verb, inNamespace] of [
      ['list', ''],
      ['watch', ''],
      ['get', 'default'],
      ['list', 'kube-system'],
      ['list', 'kre-rt'],
      ['create', 'kube-system'],
    ]) {
      expect(
        await can(verb, 'secrets', '', inNamespace),
        `${verb} secrets in "${inNamespace}"`,
      ).toBe(false);
    }
    expect(await can('patch', 'deployments', 'apps', 'kube-system')).toBe(false);
    expect(await can('patch', 'deployments', 'apps', 'kre-rt')).toBe(false);

    // A runtime namespace, with the binding the deployer gives itself there.
    const binding = runtimeManifests(
      testOptions({ prefix: 'kre', installationNamespace: namespace }),
      'rt',
    ).find((o) => o.kind === 'RoleBinding');
    await newNamespace('kre-rt');
    await serverSideApply([binding!]);
    expect(await can('list', 'secrets', '', 'kre-rt')).toBe(true);
    expect(await can('patch', 'deployments', 'apps', 'kre-rt')).toBe(true);
    expect(await can('watch', 'deployments', 'apps', 'kre-rt')).toBe(true);
    expect(await can('delete', 'ingresses', 'networking.k8s.io', 'kre-rt')).toBe(true);
    expect(await can('create', 'pods', '', 'kre-rt')).toBe(false);
    expect(await can('create', 'pods', 'exec', 'kre-rt')).toBe(false);
    expect(await can('update', 'deployments', 'apps', 'kre-rt')).toBe(false);
    expect(await can('get', 'configmaps', '', 'kre-rt')).toBe(false);
    expect(await can('list', 'secrets', '', 'default')).toBe(false);
  });

  describe("as the deployer's service account", () => {
    /** The release namespace and the installation prefix of these tests. */
    let namespace: string;
    let prefix: string;
    let deployerConfig: KubeConfig;
    let asDeployer: KubernetesObjectApi;
    let driver: KubernetesDriver;

    const ssaAsDeployer = (object: KubernetesObject) =>
      asDeployer.patch(
        object,
        undefined,
        'All',
        'kre-deployer',
        true,
        PatchStrategy.ServerSideApply,
      );
    const mergePatchAsDeployer = (object: KubernetesObject) =>
      asDeployer.patch(
        object,
        undefined,
        'All',
        'kre-deployer',
        undefined,
        PatchStrategy.MergePatch,
      );

    beforeAll(async () => {
      prefix = testPrefix();
      namespace = await newNamespace(`${prefix}-kre`);
      const args = ['--set', `kre.prefix=${prefix}`, '--set', 'kubernetes.ingress.domain=kre.test'];
      const objects = documents(await render(namespace, ...args));
      await serverSideApply(
        objects.filter((o) =>
          [
            'ServiceAccount',
            'ClusterRole',
            'ClusterRoleBinding',
            'ValidatingAdmissionPolicy',
            'ValidatingAdmissionPolicyBinding',
          ].includes(o.kind ?? ''),
        ),
      );
      // The account's own token (TokenRequest), as the deployer's pod gets it.
      const core = kubeConfig.makeApiClient(CoreV1Api);
      const token = await core.createNamespacedServiceAccountToken({
        name: `${prefix}-deployer`,
        namespace,
        body: { spec: { audiences: [], expirationSeconds: 3_600 } },
      });
      const cluster = kubeConfig.getCurrentCluster()!;
      deployerConfig = new KubeConfig();
      deployerConfig.loadFromOptions({
        clusters: [cluster],
        users: [{ name: 'deployer', token: token.status?.token }],
        contexts: [{ name: 'deployer', cluster: cluster.name, user: 'deployer' }],
        currentContext: 'deployer',
      });
      asDeployer = KubernetesObjectApi.makeApiClient(deployerConfig);
      // The driver as the deployer runs it: options from the env the chart gives its container.
      const container = podSpecOf(find(objects, 'Deployment', 'kre-deployer')).containers[0];
      const env = deployerEnvSchema.parse(resolveEnv(container, objects, namespace));
      driver = await KubernetesDriver.create(deployerConfig, kubernetesOptions(env));
      // The API server enforces a new policy once its informer has it.
      const deadline = Date.now() + 20_000;
      const kubeSystem = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system' } };
      while (!/ValidatingAdmissionPolicy/.test(await outcome(() => ssaAsDeployer(kubeSystem)))) {
        if (Date.now() > deadline)
          throw new Error('the admission policy is not enforced after 20 s');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    });

    afterAll(() => driver?.close());

    it('runs the kubernetes driver, configured from the chart, through a runtime and a version of examples/greeter, from prepare to removal', async () => {
      const { krt } = await validateKrtDirectory('examples/greeter');
      const runtimeId = 'greeter';
      const runtimeNamespace = `${prefix}-${runtimeId}`;
      await driver.adopt();
      await driver.prepareRuntime(runtimeId);
      await driver.prepareRuntime(runtimeId); // converges
      const p = plan({
        prefix,
        runtimeId,
        krt,
        natsUrl: 'nats://127.0.0.1:4222',
        config: {
          variables: Object.fromEntries(krt.config.variables.map((k) => [k, `v-${k}`])),
          files: {},
        },
        requestTimeoutSeconds: 30,
      });
      await driver.apply(p);
      await driver.apply(p);
      const ready = driver.waitReady(runtimeId, p.versionName, 30_000);
      await markDeploymentsAvailable(
        kubeConfig.makeApiClient(AppsV1Api),
        runtimeNamespace,
        `kre.io/runtime=${runtimeId},kre.io/version=${p.versionName}`,
      );
      await ready;
      expect(await driver.status(runtimeId, p.versionName)).toEqual([]); // no kubelet, no pods
      expect(await driver.endpoints(runtimeId, p.versionName)).not.toBeNull();
      await driver.publish(runtimeId, p.versionName);
      const ingress = await objectsApi.read<V1Ingress>({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name: 'entrypoint', namespace: runtimeNamespace },
      });
      expect(ingress.spec?.rules?.[0]?.host).toBe(`${runtimeId}.kre.test`);
      await driver.stop(runtimeId, p.versionName);
      expect(await driver.endpoints(runtimeId, p.versionName)).toBeNull();
      await driver.removeRuntime(runtimeId);
      const gone = await outcome(() =>
        objectsApi.read({
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: runtimeNamespace },
        }),
      );
      expect(gone).toMatch(/^404 /);
    });

    it('is refused any change outside its own runtime namespaces (admission policy) and any Secret there (RBAC)', async () => {
      await driver.prepareRuntime('alpha');
      const runtimeNamespace = `${prefix}-alpha`;
      const ns = (name: string, labels?: Record<string, string>) => ({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name, ...(labels ? { labels } : {}) },
      });
      const owned = { 'kre.io/installation': prefix };
      const foreign = await newNamespace(`${prefix}-foreign`); // named like a runtime's, not labelled
      const labelledElsewhere = await newNamespace(`${testPrefix()}-other`, owned);
      const outside = /the KRE deployer \(installation "[a-z0-9]+"\) may change only namespaces /;
      const bindingIn = (
        where: string,
        subject: { name: string; namespace: string },
        role?: string,
      ) =>
        ({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: 'kre-deployer', namespace: where },
          roleRef: {
            apiGroup: 'rbac.authorization.k8s.io',
            kind: 'ClusterRole',
            name: role ?? `kre-runtime-deployer:${namespace}:${prefix}`,
          },
          subjects: [{ kind: 'ServiceAccount', ...subject }],
        }) as KubernetesObject;
      const self = { name: `${prefix}-deployer`, namespace };

      // Namespaces that are not this installation's runtimes: no change of any kind.
      expect(await outcome(() => ssaAsDeployer(ns('kube-system', { a: 'b' })))).toMatch(
        byPolicy(outside),
      );
      expect(await outcome(() => ssaAsDeployer(ns(foreign, { a: 'b' })))).toMatch(
        byPolicy(outside),
      );
      expect(await outcome(() => ssaAsDeployer(ns(labelledElsewhere, { a: 'b' })))).toMatch(
        byPolicy(outside),
      );
      expect(
        await outcome(() => asDeployer.delete(ns(labelledElsewhere), undefined, 'All')),
      ).toMatch(byPolicy(outside));
      expect(await outcome(() => asDeployer.delete(ns(foreign), undefined, 'All'))).toMatch(
        byPolicy(outside),
      );
      expect(await outcome(() => ssaAsDeployer(ns(`elsewhere-${prefix}`, owned)))).toMatch(
        byPolicy(outside),
      );
      expect(await outcome(() => ssaAsDeployer(ns(`${prefix}-unlabelled`)))).toMatch(
        byPolicy(outside),
      );
      // Nor can it take the label off a runtime namespace, or lift its Pod Security.
      const keeps = /a runtime namespace keeps its kre.io\/installation label and Pod Security/;
      const unlabel = {
        ...ns(runtimeNamespace),
        metadata: { name: runtimeNamespace, labels: { 'kre.io/installation': null } },
      } as unknown as KubernetesObject;
      expect(await outcome(() => mergePatchAsDeployer(unlabel))).toMatch(byPolicy(keeps));
      expect(
        await outcome(() =>
          mergePatchAsDeployer(
            ns(runtimeNamespace, { 'pod-security.kubernetes.io/enforce': 'privileged' }),
          ),
        ),
      ).toMatch(byPolicy(keeps));
      // Its RoleBinding: only the runtime role, only to itself, only in its runtime namespaces.
      expect(await outcome(() => ssaAsDeployer(bindingIn('default', self)))).toMatch(
        byPolicy(outside),
      );
      expect(
        await outcome(() =>
          ssaAsDeployer(
            bindingIn(runtimeNamespace, { name: 'kre-workload', namespace: runtimeNamespace }),
          ),
        ),
      ).toMatch(
        byPolicy(/may only bind the runtime deployer ClusterRole to its own service account/),
      );
      expect(
        await outcome(() => ssaAsDeployer(bindingIn(runtimeNamespace, self, 'cluster-admin'))),
      ).toMatch(/^403 .*is attempting to grant RBAC permissions not currently held/s);
      // Its Services stay inside the cluster.
      const nodePort = {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'exposed', namespace: runtimeNamespace },
        spec: { type: 'NodePort', ports: [{ port: 80 }] },
      } as V1Service;
      const servicesRule =
        /Services are ClusterIP without external IPs, or an ExternalName onto this installation's gateway/;
      expect(await outcome(() => ssaAsDeployer(nodePort))).toMatch(byPolicy(servicesRule));
      // An ExternalName leads only to this installation's gateway (never elsewhere in or out).
      const elsewhere = {
        ...nodePort,
        spec: { type: 'ExternalName', externalName: 'evil.example.com', ports: [{ port: 80 }] },
      } as V1Service;
      expect(await outcome(() => ssaAsDeployer(elsewhere))).toMatch(byPolicy(servicesRule));
      // Secrets: only in its runtime namespaces (RBAC; reads never reach admission).
      const core = deployerConfig.makeApiClient(CoreV1Api);
      expect(await outcome(() => core.listNamespacedSecret({ namespace: 'default' }))).toMatch(
        byRbac('list', 'secrets'),
      );
      expect(await outcome(() => core.listSecretForAllNamespaces())).toMatch(
        byRbac('list', 'secrets'),
      );
      expect(
        await outcome(() => core.readNamespacedSecret({ name: 'any', namespace: 'kube-system' })),
      ).toMatch(byRbac('get', 'secrets'));

      // What it must do still works: its runtime namespace, a Secret and a Service in it.
      expect(await outcome(() => mergePatchAsDeployer(ns(runtimeNamespace, { x: 'y' })))).toBe(
        'allowed',
      );
      const secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'config', namespace: runtimeNamespace },
        stringData: { KEY: 'value' },
      } as V1Secret;
      expect(await outcome(() => ssaAsDeployer(secret))).toBe('allowed');
      expect(
        await outcome(() =>
          ssaAsDeployer({ ...nodePort, spec: { ports: [{ port: 80 }] } } as V1Service),
        ),
      ).toBe('allowed');
      expect(await outcome(() => core.listNamespacedSecret({ namespace: runtimeNamespace }))).toBe(
        'allowed',
      );
    });
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

    const install = await helmIn('install', 'kre', CHART, ...NATS_AUTH);
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
