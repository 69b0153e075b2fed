import { describe, expect, it } from 'vitest';
import { acceptKrt, krtErrors } from './testing/krt.expect.js';
import { V1_MANIFEST, v1Files, v2Files, withModelNode } from './testing/krt.fixtures.js';

const withResources = (value: string) => withModelNode('resources', value);

const MODEL = 'workflows[0].nodes[1].resources';

describe('KRT node resources', () => {
  it('reads memory and CPU in Kubernetes units into bytes and thousandths of a CPU', async () => {
    const cases: [string, object][] = [
      ['{memory: 512Mi, cpu: 0.5}', { memoryBytes: 512 * 2 ** 20, cpuMillis: 500 }],
      ['{memory: 1.5Gi, cpu: 250m}', { memoryBytes: 1.5 * 2 ** 30, cpuMillis: 250 }],
      ['{memory: "100M", cpu: 2}', { memoryBytes: 100e6, cpuMillis: 2_000 }],
      ['{cpu: "1.005"}', { cpuMillis: 1_005 }],
      ['{memory: 268435456}', { memoryBytes: 268_435_456 }],
    ];
    for (const [yaml, expected] of cases) {
      const krt = await acceptKrt(withResources(yaml));
      expect(krt.workflows[0].nodes[1].resources, yaml).toEqual(expected);
    }
  });

  it('leaves nodes without the field to the installation (no resources key)', async () => {
    const krt = await acceptKrt(v2Files());
    expect(krt.workflows[0].nodes.every((n) => !('resources' in n))).toBe(true);
  });

  it('accepts the field on v1 nodes too, carried into every workflow that runs the node', async () => {
    const manifest = V1_MANIFEST.replace(
      '    src: src/etl/execute_etl.py\n',
      '    src: src/etl/execute_etl.py\n    resources: {memory: 256Mi}\n',
    );
    expect(manifest).not.toBe(V1_MANIFEST);
    const krt = await acceptKrt(v1Files(manifest));
    const etl = krt.workflows.flatMap((w) => w.nodes).filter((n) => n.displayName === 'ETL');
    expect(etl.length).toBeGreaterThan(0);
    for (const node of etl) expect(node.resources).toEqual({ memoryBytes: 256 * 2 ** 20 });
  });

  it('names the field and the accepted units when a value is not a quantity', async () => {
    expect(await krtErrors(withResources('{memory: 512MB, cpu: half}'))).toEqual([
      {
        path: `${MODEL}.memory`,
        message:
          '"memory" of one replica must be a size such as "512Mi", "1Gi" or "1.5G" (units Ki, Mi, Gi, Ti, k, M, G, T; none = bytes), not "512MB"',
      },
      {
        path: `${MODEL}.cpu`,
        message:
          '"cpu" of one replica must be CPUs such as "0.5", "2" or "250m" (thousandths), not "half"',
      },
    ]);
  });

  it('refuses zero, too little to run, finer than a thousandth, and a non-mapping', async () => {
    expect(await krtErrors(withResources('{memory: 0, cpu: 0.0001}'))).toEqual([
      { path: `${MODEL}.memory`, message: '"memory" of one replica must be more than zero, not 0' },
      {
        path: `${MODEL}.cpu`,
        message:
          '"cpu" of one replica has a precision finer than 1m (a thousandth of a CPU): 0.0001',
      },
    ]);
    expect(await krtErrors(withResources('{memory: 16Mi, cpu: 5m}'))).toEqual([
      {
        path: `${MODEL}.memory`,
        message: '"memory" is "16Mi"; a replica needs at least 64Mi: raise it',
      },
      {
        path: `${MODEL}.cpu`,
        message: '"cpu" is "5m"; a replica needs at least 10m (0.01 CPU): raise it',
      },
    ]);
    expect(await krtErrors(withResources('1Gi'))).toEqual([
      { path: MODEL, message: '"resources" must be a mapping of fields, not a string' },
    ]);
  });

  it('warns about an unknown key (gpu is a node field of its own)', async () => {
    const krt = await acceptKrt(withResources('{memory: 1Gi, gpu: 1}'));
    expect(krt.warnings.map((w) => w.path)).toEqual([`${MODEL}.gpu`]);
    expect(krt.workflows[0].nodes[1].resources).toEqual({ memoryBytes: 2 ** 30 });
  });
});
