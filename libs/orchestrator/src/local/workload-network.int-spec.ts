import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WorkloadNetworks } from './workload-network.js';

/**
 * The namespaces themselves (root: `ip`, `nft`): who may prune what. Each installation marks the
 * namespaces it claims; a deployer prunes its own leftovers at once and never joins, nor soon
 * prunes, another installation's.
 */
describe(WorkloadNetworks.name, () => {
  const asRoot = process.getuid?.() === 0;
  const networks = new WorkloadNetworks({ subnet: '10.213.0.0/16', natsPort: 4222 });
  const exists = (namespace: string) => existsSync(`/run/netns/${namespace}`);

  it("prunes its own unused namespaces at once, another installation's not yet, and never joins one", async () => {
    if (!asRoot) {
      // Not root, no namespace can be made: the driver runs workloads on the machine's network.
      await expect(networks.claim('owner-a')).rejects.toThrow();
      return;
    }
    const mine = await networks.claim('owner-a');
    const theirs = await networks.claim('owner-b');
    try {
      expect(await networks.prune(new Set(), 'owner-a')).toBeGreaterThanOrEqual(1);
      expect(exists(mine.namespace)).toBe(false);
      expect(exists(`/sys/class/net/${mine.hostInterface}`)).toBe(false);
      expect(exists(theirs.namespace)).toBe(true); // made a moment ago by another installation

      // Asked for its old index while another installation holds it: a new one, never theirs.
      const again = await networks.ensure(theirs.index, 'owner-a');
      expect(again.index).not.toBe(theirs.index);
      await networks.release(again);
      // Its owner keeps it.
      expect((await networks.ensure(theirs.index, 'owner-b')).index).toBe(theirs.index);
    } finally {
      await networks.release(mine);
      await networks.release(theirs);
    }
    expect(exists(theirs.namespace)).toBe(false);
  });
});
