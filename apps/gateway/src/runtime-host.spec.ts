import { describe, expect, it } from 'vitest';
import { runtimeOfHost } from './runtime-host.js';

describe(runtimeOfHost.name, () => {
  it('names the runtime of <runtime>.<domain>, with or without a port, in any case', () => {
    expect(runtimeOfHost('shop.kre.example.com', 'kre.example.com')).toBe('shop');
    expect(runtimeOfHost('Shop.KRE.example.com:443', 'kre.example.com')).toBe('shop');
    expect(runtimeOfHost('shop.kre.example.com.', 'kre.example.com')).toBe('shop');
  });

  it('names none for other hosts, nested names, bad labels or no domain', () => {
    for (const host of [
      'kre.example.com',
      'a.shop.kre.example.com', // one label only: never another runtime's sub-name
      'shopkre.example.com',
      '-shop.kre.example.com',
      '127.0.0.1:9080',
      undefined,
    ])
      expect(runtimeOfHost(host, 'kre.example.com')).toBeUndefined();
    expect(runtimeOfHost('shop.kre.example.com', undefined)).toBeUndefined();
  });
});
