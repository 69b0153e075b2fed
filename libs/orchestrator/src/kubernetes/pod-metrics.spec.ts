import { describe, expect, it } from 'vitest';
import { cpuCores, memoryBytes, replicaUsageOf } from './pod-metrics.js';

describe(cpuCores.name, () => {
  it.each([
    ['250m', 0.25],
    ['12345678n', 0.012345678],
    ['1500u', 0.0015],
    ['2', 2],
    ['0', 0],
  ])('%s is %d cores', (quantity, cores) => expect(cpuCores(quantity)).toBeCloseTo(cores, 12));

  it('is undefined for what is not a CPU quantity', () => {
    expect(cpuCores('12Mi')).toBeUndefined();
    expect(cpuCores(undefined)).toBeUndefined();
  });
});

describe(memoryBytes.name, () => {
  it.each([
    ['1234Ki', 1234 * 1024],
    ['64Mi', 64 * 2 ** 20],
    ['1G', 1e9],
    ['1048576', 1048576],
    ['1.5Gi', 1.5 * 2 ** 30],
  ])('%s is %d bytes', (quantity, bytes) => expect(memoryBytes(quantity)).toBe(bytes));

  it('is undefined for what is not a memory quantity', () =>
    expect(memoryBytes('5m')).toBeUndefined());
});

describe(replicaUsageOf.name, () => {
  it("joins each replica's pod with its metrics, containers summed; an unscraped pod has no figures", () => {
    const replicas = [
      { pod: 'a-1', workloadId: 'wf.a', replica: 0, state: 'RUNNING' as const, restarts: 2 },
      { pod: 'b-1', workloadId: 'wf.b', replica: 0, state: 'STARTING' as const, restarts: 0 },
    ];
    const metrics = [
      {
        metadata: { name: 'a-1' },
        containers: [
          { name: 'runner', usage: { cpu: '250m', memory: '64Mi' } },
          { name: 'side', usage: { cpu: '5000000n', memory: '1Mi' } },
        ],
      },
    ];
    expect(replicaUsageOf(replicas, metrics)).toEqual([
      {
        workloadId: 'wf.a',
        replica: 0,
        state: 'RUNNING',
        restarts: 2,
        cpuCores: 0.255,
        memoryBytes: 65 * 2 ** 20,
      },
      { workloadId: 'wf.b', replica: 0, state: 'STARTING', restarts: 0 },
    ]);
  });
});
