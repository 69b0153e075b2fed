import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import { findOnPath } from './sandbox.js';

const run = promisify(execFile);

/**
 * A network namespace per workload replica on one machine (root only), from which NATS is the one
 * thing reachable: the replica's end of a veth pair is its only interface besides loopback, with
 * no default route, and an nftables table (`inet kre_sandbox`, shared by every installation on the
 * machine) lets in from the host's end only connections to the NATS port, which it rewrites to
 * NATS on the host's loopback (`route_localnet` on that interface). So Redis, the database, the
 * engine's own ports and other replicas are unreachable, and what a workload listens on is
 * reachable from the host alone (the gateway and the deployer's probes) at its own address.
 *
 * Each replica gets a /30 of `subnet` by index: the host's end `.1`, the workload's `.2`. An index
 * is claimed by creating its named namespace (`kre-n<index>`, atomic: two deployers never share
 * one), and released by deleting it; the namespace outlives the deployer, as its workload does.
 */
export interface WorkloadNetworkOptions {
  /** The pool of addresses, e.g. `10.213.0.0/16`: a /30 per replica. */
  subnet: string;
  /** The NATS port on this machine's loopback that workloads reach (through their own address). */
  natsPort: number;
  /** Where `ip`, `nft` and `nsenter` are looked up. */
  hostPath?: string;
}

/** A replica's network: the namespace it runs in, and the addresses of both ends. */
export interface ReplicaNetwork {
  index: number;
  namespace: string;
  /** The host's end of the veth pair (the name nftables matches). */
  hostInterface: string;
  /** The host's address, as the workload sees it: where it reaches NATS. */
  hostAddress: string;
  /** The workload's address: where it listens, and where the host reaches it. */
  workloadAddress: string;
}

/** The host interfaces of every installation's replicas start with this. */
const INTERFACE_PREFIX = 'krn';
const NAMESPACE_PREFIX = 'kre-n';
const TABLE = 'kre_sandbox';
/** Where `ip netns` keeps named namespaces. */
const NETNS_DIR = '/run/netns';
/** Who claimed each namespace: `<index>` holds the claiming driver's owner id. */
const OWNERS_DIR = '/run/kre-netns';
/**
 * Another installation's namespace (or one with no owner mark) that no process uses is a
 * leftover once this old: that installation's own deployer prunes its leftovers at once.
 */
const FOREIGN_LEFTOVER_AFTER_MS = 3_600_000;

/** The shared table: made once per machine boot, by whichever deployer comes first. */
function firewall(): string {
  return `table inet ${TABLE} {
  set nats {
    type ifname . inet_service
  }
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname . tcp dport @nats dnat ip to 127.0.0.1
  }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "${INTERFACE_PREFIX}*" ct state established,related accept
    iifname "${INTERFACE_PREFIX}*" ct status dnat accept
    iifname "${INTERFACE_PREFIX}*" drop
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "${INTERFACE_PREFIX}*" drop
    oifname "${INTERFACE_PREFIX}*" drop
  }
}
`;
}

function parseSubnet(subnet: string): { base: number; slots: number } {
  const match = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(subnet);
  const bits = match ? Number(match[2]) : NaN;
  if (!match || isIP(match[1]) !== 4 || !(bits >= 8 && bits <= 30))
    throw new Error(`workload subnet "${subnet}" must be an IPv4 CIDR from /8 to /30`);
  const base = match[1].split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
  const size = 2 ** (32 - bits);
  if (base % size !== 0) throw new Error(`workload subnet "${subnet}" is not aligned to /${bits}`);
  return { base, slots: size / 4 };
}

/** The owner id that claimed namespace `index`; undefined without a mark. */
async function ownerOf(index: number): Promise<string | undefined> {
  return readFile(join(OWNERS_DIR, String(index)), 'utf8').catch(() => undefined);
}

function address(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/** The NATS port of a URL on this machine's loopback; undefined for any other host. */
export function loopbackNatsPort(url: string): number | undefined {
  const first = url.split(',')[0].trim();
  let parsed: URL;
  try {
    parsed = new URL(first.includes('://') ? first : `nats://${first}`);
  } catch {
    return undefined;
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (!(host === 'localhost' || host === '::1' || host.startsWith('127.'))) return undefined;
  return Number(parsed.port || 4222);
}

export class WorkloadNetworks {
  private readonly pool: { base: number; slots: number };
  private readonly env: NodeJS.ProcessEnv;
  private ready?: Promise<void>;
  private nsenter = 'nsenter';

  constructor(private readonly options: WorkloadNetworkOptions) {
    this.pool = parseSubnet(options.subnet);
    this.env = {
      PATH: options.hostPath ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    };
  }

  /** What `/health` says. */
  describe(): string {
    return `a network namespace per replica (${this.options.subnet}), only NATS reachable`;
  }

  /** The network of index `index` (names and addresses: nothing is created). */
  network(index: number): ReplicaNetwork {
    const first = this.pool.base + index * 4;
    return {
      index,
      namespace: `${NAMESPACE_PREFIX}${index}`,
      hostInterface: `${INTERFACE_PREFIX}${index}`,
      hostAddress: address(first + 1),
      workloadAddress: address(first + 2),
    };
  }

  /** The workload's NATS URL: the host's end of its veth pair, at the NATS port. */
  natsUrl(network: ReplicaNetwork): string {
    return `nats://${network.hostAddress}:${this.options.natsPort}`;
  }

  /**
   * Checks the tools and makes the shared firewall table (once per boot: an existing table is
   * left as it is, with other installations' entries).
   * @throws naming what to install when `ip`, `nft` or `nsenter` is missing or refuses
   */
  start(): Promise<void> {
    this.ready ??= (async () => {
      for (const tool of ['ip', 'nft', 'nsenter']) {
        const path = findOnPath(tool, this.env.PATH!);
        if (path) this.nsenter = tool === 'nsenter' ? path : this.nsenter;
        else {
          throw new Error(
            `the workloads' network namespaces need "${tool}" (Debian packages iproute2, nftables, util-linux; scripts/services installs them), or WORKLOAD_NETWORK=shared`,
          );
        }
      }
      const listed = await run('nft', ['list', 'table', 'inet', TABLE], { env: this.env }).then(
        () => true,
        () => false,
      );
      if (!listed) await this.exec('nft', ['-f', '-'], firewall());
    })();
    return this.ready;
  }

  /**
   * A network for a new replica: the first free index whose namespace this call creates.
   * @throws when the pool is exhausted
   */
  async claim(owner: string): Promise<ReplicaNetwork> {
    await this.start();
    const offset = Math.floor(Math.random() * this.pool.slots);
    for (let i = 0; i < this.pool.slots; i++) {
      const index = (offset + i) % this.pool.slots;
      const network = this.network(index);
      if (existsSync(`${NETNS_DIR}/${network.namespace}`)) continue;
      try {
        await run('ip', ['netns', 'add', network.namespace], { env: this.env });
      } catch {
        continue; // another deployer took it first
      }
      await this.wire(network, owner);
      return network;
    }
    throw new Error(`no free workload network in ${this.options.subnet}`);
  }

  /**
   * The replica's network, made again where it is gone (a reboot): before each (re)start.
   * @returns the network to use (another index when its own was taken meanwhile)
   */
  async ensure(index: number, owner: string): Promise<ReplicaNetwork> {
    await this.start();
    const network = this.network(index);
    if (existsSync(`${NETNS_DIR}/${network.namespace}`)) {
      // Never another installation's: its was pruned and the index taken meanwhile.
      if ((await ownerOf(index)) !== owner) return this.claim(owner);
      if (existsSync(`/sys/class/net/${network.hostInterface}`)) return network;
      await this.release(network);
    }
    try {
      await run('ip', ['netns', 'add', network.namespace], { env: this.env });
    } catch {
      return this.claim(owner);
    }
    await this.wire(network, owner);
    return network;
  }

  /** Deletes the namespace (its veth pair goes with the last process in it) and its NATS entry. */
  async release(network: ReplicaNetwork): Promise<void> {
    await run(
      'nft',
      [
        'delete',
        'element',
        'inet',
        TABLE,
        'nats',
        `{ ${network.hostInterface} . ${this.options.natsPort} }`,
      ],
      { env: this.env },
    ).catch(() => undefined);
    await run('ip', ['link', 'delete', network.hostInterface], { env: this.env }).catch(
      () => undefined,
    );
    await run('ip', ['netns', 'delete', network.namespace], { env: this.env }).catch(
      () => undefined,
    );
    await rm(join(OWNERS_DIR, String(network.index)), { force: true });
  }

  /**
   * Deletes namespaces of the pool that no process uses and no replica of `owner`'s registries
   * holds (`inUse`): `owner`'s own at once (call it before any start), another installation's
   * (or one without a mark) only when made an hour ago, as its own deployer prunes its leftovers.
   */
  async prune(inUse: ReadonlySet<number>, owner: string): Promise<number> {
    await this.start();
    const { stdout } = await run('ip', ['netns', 'list'], { env: this.env });
    let pruned = 0;
    for (const line of stdout.split('\n')) {
      const name = line.split(' ')[0];
      if (!name.startsWith(NAMESPACE_PREFIX)) continue;
      const index = Number(name.slice(NAMESPACE_PREFIX.length));
      if (!Number.isInteger(index) || index >= this.pool.slots || inUse.has(index)) continue;
      const made = await stat(`${NETNS_DIR}/${name}`).catch(() => undefined);
      if (!made) continue;
      const mine = (await ownerOf(index)) === owner;
      if (!mine && Date.now() - made.mtimeMs < FOREIGN_LEFTOVER_AFTER_MS) continue;
      const pids = await run('ip', ['netns', 'pids', name], { env: this.env }).catch(() => null);
      if (!pids || pids.stdout.trim() !== '') continue;
      await this.release(this.network(index));
      pruned += 1;
    }
    return pruned;
  }

  /** `file args` run inside the replica's namespace (nsenter execs it: same pid). */
  enter(
    network: ReplicaNetwork,
    file: string,
    args: readonly string[],
  ): { file: string; args: string[] } {
    return {
      file: this.nsenter,
      args: [`--net=${NETNS_DIR}/${network.namespace}`, '--', file, ...args],
    };
  }

  /** The veth pair, the addresses, loopback up, no IPv6, and NATS let in. */
  private async wire(network: ReplicaNetwork, owner: string): Promise<void> {
    const { namespace: ns, hostInterface: host } = network;
    try {
      await this.exec('ip', [
        'link',
        'add',
        host,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        ns,
      ]);
      await this.exec('ip', ['addr', 'add', `${network.hostAddress}/30`, 'dev', host]);
      await writeFile(`/proc/sys/net/ipv4/conf/${host}/route_localnet`, '1');
      await writeFile(`/proc/sys/net/ipv6/conf/${host}/disable_ipv6`, '1');
      await this.exec('ip', ['link', 'set', host, 'up']);
      await this.exec('ip', [
        '-n',
        ns,
        'addr',
        'add',
        `${network.workloadAddress}/30`,
        'dev',
        'eth0',
      ]);
      await this.exec('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await this.exec('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      await this.exec('nsenter', [
        `--net=${NETNS_DIR}/${ns}`,
        '--',
        'sh',
        '-c',
        'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6',
      ]);
      await this.exec('nft', [
        'add',
        'element',
        'inet',
        TABLE,
        'nats',
        `{ ${host} . ${this.options.natsPort} }`,
      ]);
      await mkdir(OWNERS_DIR, { recursive: true, mode: 0o700 });
      await writeFile(join(OWNERS_DIR, String(network.index)), owner, { mode: 0o600 });
    } catch (error) {
      await this.release(network);
      throw error;
    }
  }

  private async exec(file: string, args: string[], input?: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const child = execFile(file, args, { env: this.env }, (error, _stdout, stderr) => {
        if (error)
          reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim() || error.message}`));
        else resolve();
      });
      if (input !== undefined) child.stdin?.end(input);
    });
  }
}
