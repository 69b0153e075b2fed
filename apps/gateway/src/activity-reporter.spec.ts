import { describe, expect, it } from 'vitest';
import type { VersionActivity } from '@libs/messaging';
import { ActivityReporter } from './activity-reporter.js';

describe(ActivityReporter.name, () => {
  const setup = () => {
    const sent: VersionActivity[] = [];
    return { sent, sut: new ActivityReporter((report) => sent.push(report), 2_000) };
  };

  it("reports a version's first call at once, then at most once per gap", () => {
    const { sent, sut } = setup();
    for (let i = 0; i < 100; i++) sut.begin('shop', 'v1', 1_000 + i)();
    expect(sent).toEqual([{ runtimeId: 'shop', versionName: 'v1' }]);
    sut.flush(2_000); // within the gap of the first report
    expect(sent).toHaveLength(1);
    sut.flush(3_000);
    expect(sent).toHaveLength(2);
    sut.flush(5_000); // nothing since: nothing to say, and the version is forgotten
    expect(sent).toHaveLength(2);
    expect(sut.size).toBe(0);
    sut.begin('shop', 'v1', 5_001);
    expect(sent).toHaveLength(3);
  });

  it('keeps reporting a call in flight, and its end once', () => {
    const { sent, sut } = setup();
    const end = sut.begin('shop', 'v1', 0);
    sut.flush(2_000);
    sut.flush(4_000);
    expect(sent).toHaveLength(3);
    end();
    end(); // idempotent
    sut.flush(6_000);
    sut.flush(8_000);
    expect(sent).toHaveLength(4);
  });

  it('reports each version on its own', () => {
    const { sent, sut } = setup();
    sut.begin('shop', 'v1', 0);
    sut.begin('shop', 'v2', 0);
    sut.begin('bank', 'v1', 0);
    expect(sent).toEqual([
      { runtimeId: 'shop', versionName: 'v1' },
      { runtimeId: 'shop', versionName: 'v2' },
      { runtimeId: 'bank', versionName: 'v1' },
    ]);
  });
});
