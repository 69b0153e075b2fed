import type { RuntimeQuota } from '@libs/core';
import type { Krt, KrtNode } from '@libs/krt';
import { describe, expect, it } from 'vitest';
import { plan } from './deployment-plan.js';
import {
  QuotaExceededError,
  checkQuota,
  krtStoresUsage,
  krtUsage,
  planUsage,
} from './deployment-plan.quota.js';

const MI = 2 ** 20;
const GI = 2 ** 30;

const node = (name: string, from: string, extra: Partial<KrtNode> = {}): KrtNode => ({
  name,
  displayName: name,
  image: 'kre/runner-node:latest',
  src: `src/${name}.js`,
  gpu: false,
  replicas: 1,
  subscriptions: [{ node: from }],
  ...extra,
});

const krt: Krt = {
  krtVersion: 'v2',
  version: 'v1',
  description: 'quota',
  entrypoint: { proto: 'public_input.proto', image: 'kre/entrypoint:latest' },
  config: { variables: [], files: [] },
  rpcs: ['Classify', 'Train'],
  manifest: 'kre.yaml',
  docs: [],
  warnings: [],
  workflows: [
    {
      name: 'classify',
      displayName: 'classify',
      entrypoint: 'Classify',
      exitpoint: 'model',
      nodes: [
        node('etl', 'entrypoint', { replicas: 3, resources: { memoryBytes: 256 * MI } }),
        node('model', 'etl', { replicas: 2, resources: { memoryBytes: GI, cpuMillis: 2_000 } }),
      ],
    },
    {
      name: 'train',
      displayName: 'train',
      entrypoint: 'Train',
      exitpoint: 'trainer',
      nodes: [
        node('trainer', 'entrypoint', {
          gpu: true,
          resources: { cpuMillis: 500 },
          objectStore: { name: 'models', scope: 'project' },
        }),
      ],
    },
  ],
};

const defaults = {
  replica: { memoryBytes: 512 * MI, cpuMillis: 1_000 },
  streamMaxBytes: 64 * MI,
  storeMaxBytes: { keyValue: 4 * MI, objectStore: 100 * MI },
};
const sut = plan({
  prefix: 'kre',
  runtimeId: 'demo',
  krt,
  natsUrl: 'nats://127.0.0.1:4222',
  config: { variables: {}, files: {} },
  requestTimeoutSeconds: 30,
  replicaDefaults: defaults.replica,
  streamSettings: { maxBytes: defaults.streamMaxBytes },
  storeMaxBytes: defaults.storeMaxBytes,
});

describe(planUsage.name, () => {
  it("carries each node's resources into its workload, the installation's default for the rest", () => {
    expect(sut.workloads.map((w) => [w.id, w.resources])).toEqual([
      ['entrypoint', { memoryBytes: 512 * MI, cpuMillis: 1_000 }],
      ['classify.etl', { memoryBytes: 256 * MI, cpuMillis: 1_000 }],
      ['classify.model', { memoryBytes: GI, cpuMillis: 2_000 }],
      ['train.trainer', { memoryBytes: 512 * MI, cpuMillis: 500 }],
    ]);
    expect(sut.resources.workflows.map((w) => w.streamConfig.max_bytes)).toEqual([
      64 * MI,
      64 * MI,
    ]);
  });

  it('counts replicas × per-replica limits, GPUs per replica and the streams, as the KRT alone says', () => {
    const usage = {
      replicas: 1 + 3 + 2 + 1,
      memoryBytes: 512 * MI + 3 * 256 * MI + 2 * GI + 512 * MI,
      cpuMillis: 1_000 + 3 * 1_000 + 2 * 2_000 + 500,
      gpus: 1,
      // 2 workflow streams; KV: the project's, 2 workflows', 3 nodes'; 1 object store.
      storageBytes: 2 * 64 * MI + 6 * 4 * MI + 100 * MI,
    };
    expect(planUsage(sut)).toEqual(usage);
    expect(krtUsage(krt, defaults)).toEqual(usage);
  });

  it('counts a stopped version by its KV buckets and object stores alone (they stay until deleted)', () => {
    expect(krtStoresUsage(krt, defaults)).toEqual({
      replicas: 0,
      memoryBytes: 0,
      cpuMillis: 0,
      gpus: 0,
      storageBytes: 6 * 4 * MI + 100 * MI,
    });
  });
});

describe(checkQuota.name, () => {
  const quota: RuntimeQuota = {
    replicas: 10,
    memoryBytes: 4 * GI,
    cpuMillis: 10_000,
    gpus: 1,
    storageBytes: 2 * GI,
    obsBytes: 2 ** 30,
    obsMaxAgeMs: 604_800_000,
  };
  const none = { replicas: 0, memoryBytes: 0, cpuMillis: 0, gpus: 0, storageBytes: 0 };

  it('lets the plan through alone, and refuses it beside another version of the same', () => {
    expect(() => checkQuota(sut, quota, none)).not.toThrow();
    let error: unknown;
    try {
      checkQuota(sut, quota, krtUsage(krt, defaults));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect((error as QuotaExceededError).excesses.map((e) => [e.field, e.over])).toEqual([
      ['replicas', 4],
      ['memoryBytes', 3584 * MI],
      ['cpuMillis', 7_000],
      ['gpus', 1],
    ]);
    expect((error as Error).message).toBe(
      'starting "v1" would exceed the quota of runtime "demo": ' +
        "replicas: this version needs 7, the runtime's other versions hold 7, the quota is 10 (4 over); " +
        'memory: this version needs 3840Mi' +
        ", the runtime's other versions hold 3840Mi, the quota is 4Gi (3584Mi over); " +
        "CPU: this version needs 8500m, the runtime's other versions hold 8500m, the quota is 10 (7 over); " +
        "GPUs: this version needs 1, the runtime's other versions hold 1, the quota is 1 (1 over). " +
        "Stop another version, lower the KRT's replicas or resources, or ask a platform admin to raise the quota",
    );
  });

  it('counts storage, a stopped version included, and names it when it does not fit', () => {
    const small = { ...quota, storageBytes: 300 * MI };
    expect(() => checkQuota(sut, small, krtStoresUsage(krt, defaults))).toThrow(
      "storage: this version needs 252Mi, the runtime's other versions hold 124Mi, the quota is 300Mi (76Mi over)",
    );
  });
});
