import { describe, expect, it } from 'vitest';
import {
  addUsage,
  describeExcess,
  formatCpu,
  formatDuration,
  formatMemory,
  parseCpu,
  parseDuration,
  parseMemory,
  quotaExcesses,
  type RuntimeQuota,
} from './quota.js';

const GI = 2 ** 30;
const MI = 2 ** 20;

describe('quantities', () => {
  it('reads memory sizes in binary and decimal units', () => {
    expect(parseMemory('512Mi')).toEqual({ ok: true, value: 512 * MI });
    expect(parseMemory('1.5Gi')).toEqual({ ok: true, value: 1.5 * GI });
    expect(parseMemory('2G')).toEqual({ ok: true, value: 2e9 });
    expect(parseMemory(1024)).toEqual({ ok: true, value: 1024 });
    expect(parseMemory('1GB')).toMatchObject({ ok: false });
    expect(parseMemory('-1Gi')).toMatchObject({ ok: false });
    expect(parseMemory('0')).toEqual({ ok: false, reason: 'must be more than zero, not "0"' });
  });

  it('reads CPUs as thousandths and refuses finer precision', () => {
    expect(parseCpu('0.5')).toEqual({ ok: true, value: 500 });
    expect(parseCpu(2)).toEqual({ ok: true, value: 2_000 });
    expect(parseCpu('250m')).toEqual({ ok: true, value: 250 });
    expect(parseCpu('1.005')).toEqual({ ok: true, value: 1_005 });
    expect(parseCpu('0.0005')).toMatchObject({ ok: false });
    expect(parseCpu('1.5m')).toMatchObject({ ok: false });
    expect(parseCpu('one')).toMatchObject({ ok: false });
  });

  it('writes them back in the largest unit that divides them', () => {
    expect(formatMemory(GI)).toBe('1Gi');
    expect(formatMemory(1.5 * GI)).toBe('1536Mi');
    expect(formatMemory(1000)).toBe('1000');
    expect(formatCpu(2_000)).toBe('2');
    expect(formatCpu(500)).toBe('500m');
    for (const text of ['8Gi', '1536Mi', '3Ki']) {
      const parsed = parseMemory(text);
      expect(parsed.ok && formatMemory(parsed.value)).toBe(text);
    }
  });
});

describe('durations', () => {
  it('reads one whole number and unit, and writes it back in the largest unit', () => {
    expect(parseDuration('7d')).toEqual({ ok: true, value: 7 * 86_400_000 });
    expect(parseDuration(' 36h ')).toEqual({ ok: true, value: 36 * 3_600_000 });
    expect(parseDuration('90m')).toEqual({ ok: true, value: 90 * 60_000 });
    expect(parseDuration('30s')).toEqual({ ok: true, value: 30_000 });
    for (const text of ['7d', '36h', '90m', '30s']) {
      const parsed = parseDuration(text);
      expect(parsed.ok && formatDuration(parsed.value)).toBe(text);
    }
    expect(formatDuration(168 * 3_600_000)).toBe('7d');
    expect(formatDuration(1_500)).toBe('1500ms');
  });

  it('says what it expected, and the least it accepts', () => {
    for (const text of ['7', '1.5h', '7 days', '-1d', '', 7])
      expect(parseDuration(text)).toMatchObject({
        ok: false,
        reason: expect.stringContaining('"7d"') as string,
      });
    expect(parseDuration('30s', 60_000)).toEqual({
      ok: false,
      reason: 'must be at least 1m, not "30s"',
    });
    expect(parseDuration('0s')).toMatchObject({ ok: false });
  });
});

describe(quotaExcesses.name, () => {
  const quota: RuntimeQuota = {
    replicas: 10,
    memoryBytes: 4 * GI,
    cpuMillis: 4_000,
    gpus: 0,
    storageBytes: GI,
    obsBytes: GI,
    obsMaxAgeMs: 7 * 86_400_000,
  };
  const usage = (replicas: number, memoryBytes: number, cpuMillis: number, gpus = 0) => ({
    replicas,
    memoryBytes,
    cpuMillis,
    gpus,
    storageBytes: 256 * MI,
  });

  it('lets a start through that fits exactly, with the other versions counted', () => {
    const others = addUsage(usage(3, GI, 1_000), usage(2, GI, 1_000));
    expect(others).toEqual({ ...usage(5, 2 * GI, 2_000), storageBytes: 512 * MI });
    const wanted = { ...usage(5, 2 * GI, 2_000), storageBytes: 512 * MI };
    expect(quotaExcesses(quota, others, wanted)).toEqual([]);
    expect(quotaExcesses(quota, others, { ...wanted, replicas: 6 })).toEqual([
      { field: 'replicas', wanted: 6, used: 5, quota: 10, over: 1 },
    ]);
  });

  it('names every resource over the quota and by how much', () => {
    const excesses = quotaExcesses(quota, usage(4, 3 * GI, 1_000), usage(3, 2 * GI, 3_500, 1));
    expect(excesses).toEqual([
      { field: 'memoryBytes', wanted: 2 * GI, used: 3 * GI, quota: 4 * GI, over: GI },
      { field: 'cpuMillis', wanted: 3_500, used: 1_000, quota: 4_000, over: 500 },
      { field: 'gpus', wanted: 1, used: 0, quota: 0, over: 1 },
    ]);
    expect(excesses.map(describeExcess)).toEqual([
      "memory: this version needs 2Gi, the runtime's other versions hold 3Gi, the quota is 4Gi (1Gi over)",
      "CPU: this version needs 3500m, the runtime's other versions hold 1, the quota is 4 (500m over)",
      "GPUs: this version needs 1, the runtime's other versions hold 0, the quota is 0 (1 over)",
    ]);
  });
});
