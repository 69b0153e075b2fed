import { describe, expect, it } from 'vitest';
import { runtimeHostPatterns, runtimeOfHost } from './runtime-host.js';

describe(runtimeOfHost.name, () => {
  const patterns = runtimeHostPatterns(
    '*.kre.example.com, entrypoint.kre-*.svc,entrypoint.kre-*.svc.cluster.local',
  );

  it('names the runtime of a matching host, with or without a port, in any case', () => {
    expect(runtimeOfHost('shop.kre.example.com', patterns)).toBe('shop');
    expect(runtimeOfHost('Shop.KRE.example.com:443', patterns)).toBe('shop');
    expect(runtimeOfHost('shop.kre.example.com.', patterns)).toBe('shop');
    expect(runtimeOfHost('entrypoint.kre-shop.svc:9080', patterns)).toBe('shop');
    expect(runtimeOfHost('entrypoint.kre-my-shop.svc.cluster.local', patterns)).toBe('my-shop');
  });

  it('names none for other hosts, nested names, bad labels or no patterns', () => {
    for (const host of [
      'kre.example.com',
      '.kre.example.com',
      'a.shop.kre.example.com', // one label only: never another runtime's sub-name
      'shopkre.example.com',
      '-shop.kre.example.com',
      'entrypoint.kre-.svc',
      '127.0.0.1:9080',
      undefined,
    ])
      expect(runtimeOfHost(host, patterns)).toBeUndefined();
    expect(runtimeOfHost('shop.kre.example.com', [])).toBeUndefined();
  });

  it('refuses a pattern without exactly one "*", naming it', () => {
    for (const bad of ['kre.example.com', '*.*.example.com', 'a b.*'])
      expect(() => runtimeHostPatterns(bad)).toThrow(`"${bad}"`);
    expect(runtimeHostPatterns(undefined)).toEqual([]);
  });
});
