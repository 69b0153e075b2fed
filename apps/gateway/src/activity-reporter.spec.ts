import { describe, expect, it } from 'vitest';
import type { VersionActivity } from '@libs/messaging';
import { ActivityReporter } from './activity-reporter.js';

describe(ActivityReporter.name, () => {
  const setup = () => {
    const sent: VersionActivity[] = [];
    return { sent, sut: new ActivityReporter((report) => sent.push(report), 2_000, 'gw-1') };
  };
  const report = (runtimeId: string, versionName: string, inFlight: number) => ({
    runtimeId,
    versionName,
    gateway: 'gw-1',
    inFlight,
  });

  it("reports a version's first call at once, then at most once per gap", () => {
    const { sent, sut } = setup();
    for (let i = 0; i < 100; i++) sut.begin('shop', 'v1', 1_000 + i)(1_000 + i);
    expect(sent).toEqual([report('shop', 'v1', 1)]);
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
    end(5_000);
    end(5_500); // idempotent
    sut.flush(6_000);
    sut.flush(8_000);
    expect(sent.map((r) => r.inFlight)).toEqual([1, 1, 1, 0.5]);
  });

  it('reports the average number of calls in flight since the previous report', () => {
    const { sent, sut } = setup();
    // One long call, and a second one for the first half of each gap.
    sut.begin('shop', 'v1', 0);
    sut.begin('shop', 'v1', 0)(1_000);
    sut.flush(2_000);
    const ends = [sut.begin('shop', 'v1', 2_000), sut.begin('shop', 'v1', 2_000)];
    for (const end of ends) end(3_000);
    sut.flush(4_000);
    expect(sent).toEqual([
      report('shop', 'v1', 1), // the first report: the one call in flight then
      report('shop', 'v1', 1.5), // 2 calls for 1 s and 1 for 1 s, over 2 s
      report('shop', 'v1', 2), // 3 calls for 1 s and 1 for 1 s
    ]);
  });

  it('reports each version on its own', () => {
    const { sent, sut } = setup();
    sut.begin('shop', 'v1', 0);
    sut.begin('shop', 'v2', 0);
    sut.begin('bank', 'v1', 0);
    expect(sent).toEqual([
      report('shop', 'v1', 1),
      report('shop', 'v2', 1),
      report('bank', 'v1', 1),
    ]);
  });

  it('names itself with an id of its own unless given one', () => {
    const a = new ActivityReporter(() => undefined);
    const b = new ActivityReporter(() => undefined);
    expect(a.gateway).toMatch(/^gw-[0-9a-f]{12}$/);
    expect(a.gateway).not.toBe(b.gateway);
  });
});
