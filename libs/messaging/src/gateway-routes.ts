import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Names } from '@libs/naming';
import { z } from 'zod';
import { type ScaleState, scaleStateSchema } from './version-scale.js';

/**
 * The gateway's routing table: KV bucket `<p>_gateway` (docs/architecture.md). The deployer
 * writes it, gateways watch it, so a gateway restart loses nothing.
 *   key `<rt>`        → the published version: `{version, http, grpc}`
 *   key `<rt>.<ver>`  → a started version: `{http, grpc, replicas?, scale?}` (`host:port` each)
 */
const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port');
/** The most entrypoint replicas a route lists (autoscaling's bound: MAX_NODE_REPLICAS). */
export const MAX_ROUTE_REPLICAS = 100;
export const versionRouteSchema = z.object({
  /** The entrypoint's addresses (its first replica's, when it runs several). */
  http: hostPort,
  grpc: hostPort,
  /**
   * Every replica's addresses when the entrypoint runs more than one behind no balancer of its
   * own (the local driver): gateways spread calls over them. Absent: `http`/`grpc` alone (one
   * replica, or a Kubernetes Service that balances its pods).
   */
  replicas: z
    .array(z.object({ http: hostPort, grpc: hostPort }))
    .min(1)
    .max(MAX_ROUTE_REPLICAS)
    .optional(),
  /**
   * Scale to zero: absent or AWAKE, the entrypoint runs; SLEEPING or WAKING, gateways hold the
   * version's calls and ask the deployer to wake it (docs/lifecycle.md, "Sleep and wake").
   */
  scale: scaleStateSchema.optional(),
});
export const publishedRouteSchema = versionRouteSchema.extend({ version: z.string().min(1) });
export type VersionRoute = z.infer<typeof versionRouteSchema>;
export type PublishedRoute = z.infer<typeof publishedRouteSchema>;

export function versionRouteKey(runtimeId: string, versionName: string): string {
  return `${runtimeId}.${versionName}`;
}

/** Opens (creating if needed) the routes bucket. */
export function openGatewayRoutes(nc: NatsConnection, names: Names): Promise<KV> {
  return new Kvm(nc).create(names.gatewayBucket(), { history: 1 });
}

/** The deployer's side: writes and removes routes. */
export class GatewayRoutes {
  private constructor(private readonly kv: KV) {}

  static async open(nc: NatsConnection, names: Names): Promise<GatewayRoutes> {
    return new GatewayRoutes(await openGatewayRoutes(nc, names));
  }

  async addVersion(runtimeId: string, versionName: string, route: VersionRoute): Promise<void> {
    await this.kv.put(
      versionRouteKey(runtimeId, versionName),
      JSON.stringify(versionRouteSchema.parse(route)),
    );
  }

  /**
   * The entrypoint's addresses now (entrypoint autoscaling added or removed replicas); its scale
   * state stays. Nothing when the version has no route (not routed yet, or stopped meanwhile).
   */
  async setEndpoints(
    runtimeId: string,
    versionName: string,
    endpoints: Pick<VersionRoute, 'http' | 'grpc' | 'replicas'>,
  ): Promise<void> {
    const key = versionRouteKey(runtimeId, versionName);
    const entry = await this.kv.get(key);
    if (!entry || entry.operation !== 'PUT') return;
    const parsed = versionRouteSchema.safeParse(entry.json());
    if (!parsed.success) return;
    const { http, grpc, replicas } = endpoints;
    const route: VersionRoute = {
      ...(parsed.data.scale ? { scale: parsed.data.scale } : {}),
      http,
      grpc,
    };
    if (replicas && replicas.length > 1) route.replicas = replicas;
    await this.kv.put(key, JSON.stringify(versionRouteSchema.parse(route)));
  }

  /**
   * Says whether the version's workloads run (scale to zero); the addresses stay. Nothing when
   * the version has no route (stopped meanwhile).
   */
  async setScale(runtimeId: string, versionName: string, scale: ScaleState): Promise<void> {
    const key = versionRouteKey(runtimeId, versionName);
    const entry = await this.kv.get(key);
    if (!entry || entry.operation !== 'PUT') return;
    const parsed = versionRouteSchema.safeParse(entry.json());
    if (!parsed.success) return;
    await this.kv.put(key, JSON.stringify({ ...parsed.data, scale }));
  }

  /** Points the runtime's stable address at this version (one KV put: requests never see a gap). */
  async publish(
    runtimeId: string,
    versionName: string,
    route: Pick<VersionRoute, 'http' | 'grpc'>,
  ): Promise<void> {
    const { http, grpc } = versionRouteSchema.parse(route);
    const record: PublishedRoute = { version: versionName, http, grpc };
    await this.kv.put(runtimeId, JSON.stringify(record));
  }

  /** Removes the runtime's published route if it still points at this version. */
  async unpublish(runtimeId: string, versionName: string): Promise<void> {
    const current = await this.published(runtimeId);
    if (current?.version === versionName) await this.kv.delete(runtimeId);
  }

  /** Removes every route to this version (stop, delete). */
  async removeVersion(runtimeId: string, versionName: string): Promise<void> {
    await this.unpublish(runtimeId, versionName);
    await this.kv.delete(versionRouteKey(runtimeId, versionName));
  }

  async published(runtimeId: string): Promise<PublishedRoute | null> {
    const entry = await this.kv.get(runtimeId);
    if (!entry || entry.operation !== 'PUT') return null;
    const parsed = publishedRouteSchema.safeParse(entry.json());
    return parsed.success ? parsed.data : null;
  }
}
