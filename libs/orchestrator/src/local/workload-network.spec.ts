import { describe, expect, it } from 'vitest';
import { WorkloadNetworks, loopbackNatsPort } from './workload-network.js';

describe(WorkloadNetworks.name, () => {
  it('gives each index a /30 of the subnet: the host end .1, the workload .2', () => {
    const networks = new WorkloadNetworks({ subnet: '10.213.0.0/16', natsPort: 4222 });
    expect(networks.network(0)).toEqual({
      index: 0,
      namespace: 'kre-n0',
      hostInterface: 'krn0',
      hostAddress: '10.213.0.1',
      workloadAddress: '10.213.0.2',
    });
    const last = networks.network(16_383);
    expect([last.hostAddress, last.workloadAddress]).toEqual(['10.213.255.253', '10.213.255.254']);
    expect(last.hostInterface.length).toBeLessThanOrEqual(15); // Linux's IFNAMSIZ - 1
    expect(networks.natsUrl(networks.network(1))).toBe('nats://10.213.0.5:4222');
  });

  it('refuses a subnet that is not an aligned IPv4 CIDR of /8 to /30, naming it', () => {
    for (const subnet of [
      '10.213.0.0',
      '10.213.0.0/31',
      'fd00::/64',
      '10.213.0.1/16',
      '300.1.1.0/24',
    ])
      expect(() => new WorkloadNetworks({ subnet, natsPort: 4222 })).toThrow(subnet);
  });
});

describe(loopbackNatsPort.name, () => {
  it("is the port of a NATS URL on this machine's loopback, else undefined", () => {
    expect(loopbackNatsPort('nats://127.0.0.1:4333')).toBe(4333);
    expect(loopbackNatsPort('nats://localhost')).toBe(4222);
    expect(loopbackNatsPort('127.0.0.1:4444')).toBe(4444);
    expect(loopbackNatsPort('nats://[::1]:4555')).toBe(4555);
    expect(loopbackNatsPort('nats://nats.kre.svc:4222')).toBeUndefined();
    expect(loopbackNatsPort('nats://10.0.0.5:4222')).toBeUndefined();
  });
});
