import { describe, expect, it } from 'vitest';
import { acceptKrt, krtErrors } from './testing/krt.expect.js';
import { V1_MANIFEST, v1Files, v2Files, withModelNode } from './testing/krt.fixtures.js';

const withBatch = (value: string) => withModelNode('batch', value);

const MODEL = 'workflows[0].nodes[1].batch';

describe('KRT node batch', () => {
  it('reads maxSize and maxLatencyMs', async () => {
    const krt = await acceptKrt(withBatch('{maxSize: 32, maxLatencyMs: 5}'));
    expect(krt.workflows[0].nodes[1].batch).toEqual({ maxSize: 32, maxLatencyMs: 5 });
    const bounds = await acceptKrt(withBatch('{maxSize: 1024, maxLatencyMs: 0}'));
    expect(bounds.workflows[0].nodes[1].batch).toEqual({ maxSize: 1024, maxLatencyMs: 0 });
  });

  it('leaves nodes without the field unbatched (no batch key), as every KRE KRT is', async () => {
    for (const krt of [await acceptKrt(v2Files()), await acceptKrt(v1Files())])
      expect(krt.workflows.flatMap((w) => w.nodes).some((n) => 'batch' in n)).toBe(false);
  });

  it('accepts the field on v1 nodes too, in every workflow that runs the node', async () => {
    const manifest = V1_MANIFEST.replace(
      '    src: src/etl/execute_etl.py\n',
      '    src: src/etl/execute_etl.py\n    batch: {maxSize: 8, maxLatencyMs: 20}\n',
    );
    expect(manifest).not.toBe(V1_MANIFEST);
    const krt = await acceptKrt(v1Files(manifest));
    const etl = krt.workflows.flatMap((w) => w.nodes).filter((n) => n.displayName === 'ETL');
    expect(etl.length).toBeGreaterThan(0);
    for (const node of etl) expect(node.batch).toEqual({ maxSize: 8, maxLatencyMs: 20 });
  });

  it('names the field, its bounds and the value when one is not a whole number in range', async () => {
    expect(await krtErrors(withBatch('{maxSize: 0, maxLatencyMs: 2.5}'))).toEqual([
      {
        path: `${MODEL}.maxSize`,
        message:
          '"maxSize" must be a whole number from 1 to 1024 (the most messages in one handler call), not 0',
      },
      {
        path: `${MODEL}.maxLatencyMs`,
        message:
          '"maxLatencyMs" must be a whole number from 0 to 10000 (milliseconds a batch waits after its first message), not 2.5',
      },
    ]);
    expect(await krtErrors(withBatch('{maxSize: 1025, maxLatencyMs: "5"}'))).toEqual([
      {
        path: `${MODEL}.maxSize`,
        message:
          '"maxSize" must be a whole number from 1 to 1024 (the most messages in one handler call), not 1025',
      },
      {
        path: `${MODEL}.maxLatencyMs`,
        message:
          '"maxLatencyMs" must be a whole number from 0 to 10000 (milliseconds a batch waits after its first message), not "5"',
      },
    ]);
  });

  it('requires both fields, and refuses a non-mapping', async () => {
    expect(await krtErrors(withBatch('{maxSize: 4}'))).toEqual([
      {
        path: `${MODEL}.maxLatencyMs`,
        message: '"maxLatencyMs" is required: milliseconds a batch waits after its first message',
      },
    ]);
    expect(await krtErrors(withBatch('16'))).toEqual([
      { path: MODEL, message: '"batch" must be a mapping of fields, not a number' },
    ]);
  });

  it('warns about an unknown key', async () => {
    const krt = await acceptKrt(withBatch('{maxSize: 4, maxLatencyMs: 1, maxBytes: 10}'));
    expect(krt.warnings.map((w) => w.path)).toEqual([`${MODEL}.maxBytes`]);
    expect(krt.workflows[0].nodes[1].batch).toEqual({ maxSize: 4, maxLatencyMs: 1 });
  });
});
