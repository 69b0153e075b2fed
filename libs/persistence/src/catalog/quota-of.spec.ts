import type { RuntimeQuota } from '@libs/core';
import { describe, expect, it } from 'vitest';
import { quotaOf } from './catalog.schemas.js';

const DEFAULTS: RuntimeQuota = {
  replicas: 32,
  memoryBytes: 32 * 2 ** 30,
  cpuMillis: 32_000,
  gpus: 0,
  storageBytes: 16 * 2 ** 30,
  obsBytes: 2 ** 30,
  obsMaxAgeMs: 7 * 86_400_000,
};

describe(quotaOf.name, () => {
  it("gives a runtime without a quota of its own the installation's default", () => {
    expect(quotaOf({}, DEFAULTS)).toEqual(DEFAULTS);
  });

  it('keeps every field a runtime has, and fills the observability ones a quota stored before them lacks', () => {
    const before = {
      replicas: 4,
      memoryBytes: 2 ** 30,
      cpuMillis: 2_000,
      gpus: 1,
      storageBytes: 2 ** 30,
    };
    expect(quotaOf({ quota: before }, DEFAULTS)).toEqual({
      ...before,
      obsBytes: DEFAULTS.obsBytes,
      obsMaxAgeMs: DEFAULTS.obsMaxAgeMs,
    });
    const own = { ...before, obsBytes: 64 * 2 ** 20, obsMaxAgeMs: 3_600_000 };
    expect(quotaOf({ quota: own }, DEFAULTS)).toEqual(own);
  });
});
