import { describe, expect, it } from 'vitest';
import { EntrypointLoad, IN_FLIGHT_TTL_MS } from './entrypoint-load.js';

describe(EntrypointLoad.name, () => {
  const setup = () => {
    let nowMs = 1_000_000;
    const sut = new EntrypointLoad({ now: () => new Date(nowMs) });
    return { sut, at: (ms: number) => (nowMs = ms), now: () => nowMs };
  };
  const v1 = { runtimeId: 'shop', versionName: 'v1' };

  it("sums each gateway's last figure for a version, keeping each version apart", () => {
    const { sut, now } = setup();
    sut.record({ ...v1, gateway: 'gw-a', inFlight: 3 });
    sut.record({ ...v1, gateway: 'gw-a', inFlight: 5 }); // replaces gw-a's
    sut.record({ ...v1, gateway: 'gw-b', inFlight: 2.5 });
    sut.record({ runtimeId: 'shop', versionName: 'v2', gateway: 'gw-a', inFlight: 40 });
    expect(sut.inFlight(v1, now())).toBe(7.5);
    expect(sut.inFlight({ runtimeId: 'bank', versionName: 'v1' }, now())).toBe(0);
  });

  it("forgets a gateway's figure once it is older than the TTL (a gateway gone quiet or gone)", () => {
    const { sut, at, now } = setup();
    sut.record({ ...v1, gateway: 'gw-a', inFlight: 10 });
    at(now() + 3_000);
    sut.record({ ...v1, gateway: 'gw-b', inFlight: 1 });
    expect(sut.inFlight(v1, now() + IN_FLIGHT_TTL_MS - 3_000)).toBe(11);
    expect(sut.inFlight(v1, now() + IN_FLIGHT_TTL_MS - 2_999)).toBe(1);
    expect(sut.inFlight(v1, now() + IN_FLIGHT_TTL_MS + 1)).toBe(0);
    expect(sut.size).toBe(0);
  });

  it('counts nothing for a report without a gateway or a figure (an older gateway)', () => {
    const { sut, now } = setup();
    sut.record(v1);
    sut.record({ ...v1, gateway: 'gw-a' });
    sut.record({ ...v1, inFlight: 4 });
    expect(sut.inFlight(v1, now())).toBe(0);
    expect(sut.size).toBe(0);
  });
});
