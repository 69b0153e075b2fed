import type { Krt } from '@libs/krt';
import { describe, expect, it } from 'vitest';
import {
  ConfigVariableTooLargeError,
  MAX_CONFIG_ENV_BYTES,
  configMaskerOf,
  plan,
  type DeploymentPlan,
} from './deployment-plan.js';

const node = (
  name: string,
  subscriptions: Krt['workflows'][number]['nodes'][number]['subscriptions'],
  extra = {},
) => ({
  name,
  displayName: name.toUpperCase(),
  image: 'konstellation/kre-runtime-runner-js:latest',
  src: `src/${name}.js`,
  gpu: false,
  replicas: 1,
  subscriptions,
  ...extra,
});

const krt: Krt = {
  krtVersion: 'v2',
  version: 'v1',
  description: 'classifier',
  entrypoint: { proto: 'public_input.proto', image: 'konstellation/kre-entrypoint:latest' },
  config: { variables: ['API_KEY'], files: ['MODEL_FILE'] },
  rpcs: ['Classify', 'Health'],
  manifest: 'krt.yml',
  docs: [],
  warnings: [],
  workflows: [
    {
      name: 'classify',
      displayName: 'classify',
      entrypoint: 'Classify',
      exitpoint: 'join',
      nodes: [
        node('etl', [{ node: 'entrypoint' }], { replicas: 2 }),
        node('model', [{ node: 'etl' }], { objectStore: { name: 'models', scope: 'workflow' } }),
        node('rules', [{ node: 'etl', channel: 'odd' }]),
        node('join', [{ node: 'model' }, { node: 'rules' }]),
      ],
    },
    {
      name: 'health',
      displayName: 'health',
      entrypoint: 'Health',
      exitpoint: 'etl',
      nodes: [node('etl', [{ node: 'entrypoint' }])],
    },
  ],
};

const input = {
  prefix: 'kre',
  runtimeId: 'demo',
  krt,
  natsUrl: 'nats://127.0.0.1:4222',
  config: { variables: { API_KEY: 'secret' }, files: { MODEL_FILE: '{"w":1}' } },
  requestTimeoutSeconds: 30,
};

describe(plan.name, () => {
  const sut = plan(input);

  it('has one entrypoint and one workload per node of each workflow (v1 nodes per workflow)', () => {
    expect(sut.workloads.map((w) => [w.id, w.program, w.replicas])).toEqual([
      ['entrypoint', 'entrypoint', 1],
      ['classify.etl', 'runner', 2],
      ['classify.model', 'runner', 1],
      ['classify.rules', 'runner', 1],
      ['classify.join', 'runner', 1],
      ['health.etl', 'runner', 1],
    ]);
  });

  it('routes each rpc to its workflow entry subject', () => {
    expect(sut.routes).toEqual({
      Classify: {
        workflow: 'classify',
        stream: 'KRE_demo_v1_classify',
        subject: 'kre.demo.wf.v1.classify.entrypoint',
      },
      Health: {
        workflow: 'health',
        stream: 'KRE_demo_v1_health',
        subject: 'kre.demo.wf.v1.health.entrypoint',
      },
    });
    const entrypoint = sut.workloads[0];
    expect(JSON.parse(entrypoint.env.KRT_ENTRYPOINT_ROUTES)).toEqual(sut.routes);
    expect(entrypoint.ports).toEqual(['grpc', 'http', 'health']);
  });

  it('wires each runner to the durable consumers the deployer provisions, channels included', () => {
    const inputs = Object.fromEntries(sut.workloads.map((w) => [w.id, w.env.KRT_NATS_INPUTS]));
    expect(inputs).toMatchObject({
      'classify.etl': 'kre.demo.wf.v1.classify.entrypoint=etl_entrypoint',
      'classify.model': 'kre.demo.wf.v1.classify.etl=model_etl',
      'classify.rules': 'kre.demo.wf.v1.classify.etl.odd=rules_etl_odd',
      'health.etl': 'kre.demo.wf.v1.health.entrypoint=etl_entrypoint',
    });
  });

  it('gives a runner its inputs, output, exitpoint flag, stores and the config as env', () => {
    const join = sut.workloads.find((w) => w.id === 'classify.join')!;
    expect(join.env).toMatchObject({
      KRT_RUNTIME_ID: 'demo',
      KRT_VERSION: 'v1',
      KRT_VERSION_ID: 'demo:v1',
      KRT_WORKFLOW_NAME: 'classify',
      KRT_NODE_NAME: 'JOIN',
      KRT_NODE_ID: 'join',
      KRT_HANDLER_PATH: 'src/join.js',
      KRT_NATS_STREAM: 'KRE_demo_v1_classify',
      KRT_NATS_INPUTS:
        'kre.demo.wf.v1.classify.model=join_model,kre.demo.wf.v1.classify.rules=join_rules',
      KRT_NATS_OUTPUT: 'kre.demo.wf.v1.classify.join',
      KRT_IS_EXITPOINT: 'true',
      KRT_NATS_KEY_VALUE_STORE_PROJECT: 'kre_demo_v1',
      KRT_NATS_KEY_VALUE_STORE_WORKFLOW: 'kre_demo_v1_classify',
      KRT_NATS_KEY_VALUE_STORE_NODE: 'kre_demo_v1_classify_join',
      KRT_NATS_OBS_PREFIX: 'kre.demo.obs',
      KRT_NATS_DATA_PREFIX: 'kre.demo.data',
      KRT_ENTRYPOINT_PROTO: 'public_input.proto',
      KRT_CONFIG_KEYS: 'API_KEY,MODEL_FILE',
      KRE_PREFIX: 'kre',
      API_KEY: 'secret',
      MODEL_FILE: '{"w":1}',
    });
    expect(join.configFiles).toEqual({ MODEL_FILE: '{"w":1}' });
    expect(sut.workloads.find((w) => w.id === 'classify.model')!.env.KRT_NATS_OBJECT_STORE).toBe(
      'kre_demo_v1_classify_models',
    );
    expect(sut.workloads.find((w) => w.id === 'classify.etl')!.env.KRT_IS_EXITPOINT).toBe('false');
  });

  it('lists the KV buckets and object stores to provision', () => {
    expect(sut.resources.keyValueStores).toEqual([
      'kre_demo_v1',
      'kre_demo_v1_classify',
      'kre_demo_v1_health',
      'kre_demo_v1_classify_etl',
      'kre_demo_v1_classify_model',
      'kre_demo_v1_classify_rules',
      'kre_demo_v1_classify_join',
      'kre_demo_v1_health_etl',
    ]);
    expect(sut.resources.objectStores).toEqual(['kre_demo_v1_classify_models']);
    expect(sut.resources.workflows.map((w) => w.stream)).toEqual([
      'KRE_demo_v1_classify',
      'KRE_demo_v1_health',
    ]);
    expect(sut.resources.krt).toEqual({ bucket: 'kre_demo_krt', key: 'v1' });
    expect(sut.krtBucket).toBe('kre_demo_krt');
  });

  it('labels workloads with their identity and keeps k8s names within 63 characters', () => {
    for (const w of sut.workloads) {
      expect(w.k8sName.length).toBeLessThanOrEqual(63);
      expect(w.labels).toMatchObject({ 'kre.io/runtime': 'demo', 'kre.io/version': 'v1' });
    }
    expect(new Set(sut.workloads.map((w) => w.k8sName)).size).toBe(sut.workloads.length);
  });

  it('keeps a config file over 100 KiB out of every env (Linux caps one env string at 128 KiB)', () => {
    const big = 'x'.repeat(1024 * 1024); // the largest value the API takes
    const edge = 'é'.repeat(MAX_CONFIG_ENV_BYTES / 2); // exactly the limit, in UTF-8 bytes
    const sut = plan({
      ...input,
      config: { ...input.config, files: { MODEL_FILE: big, EDGE_FILE: edge } },
    });
    for (const w of sut.workloads) {
      expect(w.configFiles).toEqual({ MODEL_FILE: big, EDGE_FILE: edge });
      expect(w.env).not.toHaveProperty('MODEL_FILE');
      expect(w.env.EDGE_FILE).toBe(edge);
      // ctx.config lists only what is in the env; the big file is read from KRT_CONFIG_FILES_DIR.
      expect(w.env.KRT_CONFIG_KEYS).toBe('API_KEY,EDGE_FILE');
      for (const [name, value] of Object.entries(w.env))
        expect(Buffer.byteLength(`${name}=${value}`)).toBeLessThan(128 * 1024);
    }
  });

  it('refuses a config variable over 100 KiB, naming it (variables have no file)', () => {
    const at = {
      ...input,
      config: { ...input.config, variables: { API_KEY: 'k'.repeat(MAX_CONFIG_ENV_BYTES) } },
    };
    expect(plan(at).workloads[0].env.API_KEY).toHaveLength(MAX_CONFIG_ENV_BYTES);
    const over = {
      ...at,
      config: { ...at.config, variables: { API_KEY: 'k'.repeat(MAX_CONFIG_ENV_BYTES + 1) } },
    };
    expect(() => plan(over)).toThrow(ConfigVariableTooLargeError);
    expect(() => plan(over)).toThrow(/config variable "API_KEY" is 101 KiB.*config\.files/);
  });

  it('is deterministic, and a config change changes the spec hashes (so workloads roll)', () => {
    expect(plan(input)).toEqual(sut);
    const changed = plan({
      ...input,
      config: { ...input.config, variables: { API_KEY: 'rotated' } },
    });
    expect(changed.workloads.map((w) => w.specHash)).not.toEqual(
      sut.workloads.map((w) => w.specHash),
    );
  });

  it('takes replica overrides per node (autoscaling) without changing any spec hash', () => {
    const scaled = plan({ ...input, replicas: { 'classify.model': 3, 'health.etl': 2 } });
    expect(scaled.workloads.map((w) => [w.id, w.replicas])).toEqual([
      ['entrypoint', 1],
      ['classify.etl', 2],
      ['classify.model', 3],
      ['classify.rules', 1],
      ['classify.join', 1],
      ['health.etl', 2],
    ]);
    expect(scaled.workloads.map((w) => w.specHash)).toEqual(sut.workloads.map((w) => w.specHash));
  });
});

describe('plan: traces', () => {
  it("gives every workload its runtime's traces subject when traces are exported, and nothing else changes", () => {
    const traced = plan({ ...input, tracing: { scheduleDelayMs: 250 } });
    for (const w of traced.workloads)
      expect(w.env).toMatchObject({
        KRT_NATS_TRACES_SUBJECT: 'kre.demo.traces',
        OTEL_BSP_SCHEDULE_DELAY: '250',
      });
    // No endpoint: no relay, no variable, and never the endpoint itself (workloads cannot reach it).
    for (const w of [...plan(input).workloads, ...traced.workloads]) {
      expect(Object.keys(w.env).filter((k) => k.startsWith('OTEL_EXPORTER'))).toEqual([]);
      if (!traced.workloads.includes(w)) expect(w.env.KRT_NATS_TRACES_SUBJECT).toBeUndefined();
    }
  });
});

describe('plan: adaptive batching', () => {
  it("gives a batched node's runners KRT_BATCH_MAX_SIZE and KRT_BATCH_MAX_LATENCY_MS, no other node", () => {
    const batched: Krt = {
      ...krt,
      workflows: [
        {
          ...krt.workflows[0],
          nodes: krt.workflows[0].nodes.map((n) =>
            n.name === 'model' ? { ...n, batch: { maxSize: 32, maxLatencyMs: 5 } } : n,
          ),
        },
      ],
    };
    const envs = Object.fromEntries(
      plan({ ...input, krt: batched }).workloads.map((w) => [w.id, w.env]),
    );
    expect(envs['classify.model']).toMatchObject({
      KRT_BATCH_MAX_SIZE: '32',
      KRT_BATCH_MAX_LATENCY_MS: '5',
    });
    for (const id of ['entrypoint', 'classify.etl', 'classify.rules', 'classify.join'])
      expect(
        Object.keys(envs[id]).filter((k) => k.startsWith('KRT_BATCH_')),
        id,
      ).toEqual([]);
  });
});

describe('plan: Python nodes', () => {
  const python = (image: string, src = 'src/etl/main.py') => ({
    ...input,
    krt: {
      ...krt,
      requirements: ['requirements.txt', 'src/model/requirements.txt'],
      workflows: [
        {
          ...krt.workflows[1],
          nodes: [node('etl', [{ node: 'entrypoint' }], { image, src })],
        },
      ],
    },
  });

  it.each([
    ['konstellation/kre-py:v3.4.1', 'src/etl/main.py', 'runner-python', 'requirements.txt'],
    [
      'kre/runner-python:latest',
      'src/model/main.py',
      'runner-python',
      'src/model/requirements.txt',
    ],
    ['my.registry/team/custom:1', 'src/etl/main.py', 'runner-python', 'requirements.txt'],
    ['kre/runner-node:latest', 'src/etl/main.js', 'runner', undefined],
  ])('runs %s (%s) with %s, requirements %s', (image, src, program, requirements) => {
    const [, etl] = plan(python(image, src)).workloads;
    expect(etl.program).toBe(program);
    expect(etl.requirements).toBe(requirements);
  });

  it('has no requirements for a version stored before they were recorded', () => {
    const input = python('konstellation/kre-py:1.23.0');
    delete (input.krt as Krt).requirements;
    expect(plan(input).workloads[1]).toMatchObject({ program: 'runner-python' });
    expect(plan(input).workloads[1].requirements).toBeUndefined();
  });

  it.each([
    // kre-py ≤ 1.22 passed plain dicts: the runner recognises such handlers by their module.
    'konstellation/kre-py:1.1.0',
    'konstellation/kre-py:v1.22.0',
    'konstellation/kre-py:1.23.0',
    'konstellation/kre-py:v2.1.5',
    'konstellation/kre-py:latest',
  ])('runs %s in the Python runner', (image) =>
    expect(plan(python(image)).workloads[1].program).toBe('runner-python'),
  );
});

describe(configMaskerOf.name, () => {
  it("masks the plan's config variables and files in what the engine shows of a workload's output", () => {
    const masker = configMaskerOf({
      workloads: [
        {
          env: { KRT_CONFIG_KEYS: 'TOKEN,MODEL', TOKEN: 'tok-123456789', MODEL: 'm1' },
          configFiles: { 'creds.json': '{"secret":"abcdefgh"}' },
        },
      ],
    } as unknown as DeploymentPlan);
    expect(masker.mask('boom tok-123456789 {"secret":"abcdefgh"} m1')).toBe('boom *** *** m1');
  });
});
