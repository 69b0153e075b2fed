import { Logger } from '@nestjs/common';
import type { KV } from '@nats-io/kv';
import {
  type PublishedRoute,
  type ScaleState,
  type VersionRoute,
  publishedRouteSchema,
  versionRouteSchema,
} from '@libs/messaging';
import { followKv } from './kv-follower.js';

/**
 * Where a request goes: the version's entrypoint (`host:port` per protocol), one replica's when
 * it runs several (the route's `replicas`, taken in turn).
 */
export interface Target extends VersionRoute {
  runtimeId: string;
  version: string;
}

/** A started version's route changed: its scale state now, or `gone` (stopped). */
export type RouteListener = (
  runtimeId: string,
  version: string,
  scale: ScaleState | 'gone',
) => void;

/** Why a request has nowhere to go (gRPC NOT_FOUND / HTTP 404). */
export class NoRouteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoRouteError';
  }
}

/**
 * The gateway's routing table, a live copy of the KV bucket `<p>_gateway` the deployer writes:
 * key `<rt>` → the published version, key `<rt>.<ver>` → a started version. Records that do
 * not match the format are ignored (and logged).
 */
export class RouteTable {
  private readonly logger = new Logger(RouteTable.name);
  private readonly published = new Map<string, PublishedRoute>();
  private readonly versions = new Map<string, VersionRoute>();
  /** A started version's calls so far, for taking its replicas in turn. */
  private readonly turns = new Map<string, number>();
  private initialized = false;
  private stopWatch?: () => void;
  private readonly listeners = new Set<RouteListener>();

  /** Called on every change of a started version's route (scale to zero's wake gate). */
  onVersionChange(listener: RouteListener): void {
    this.listeners.add(listener);
  }

  private notify(key: string, scale: ScaleState | 'gone'): void {
    const dot = key.indexOf('.');
    for (const listener of this.listeners) listener(key.slice(0, dot), key.slice(dot + 1), scale);
  }

  get ready(): boolean {
    return this.initialized;
  }

  /** Loads the bucket and follows its changes until `stop()`. Resolves once loaded. */
  async start(kv: KV): Promise<void> {
    this.stopWatch = await followKv(kv, (key, operation, value) =>
      this.apply(key, operation, value),
    );
    this.initialized = true;
    this.logger.log(
      `routes loaded: ${this.published.size} published, ${this.versions.size} started version(s)`,
    );
  }

  stop(): void {
    this.stopWatch?.();
  }

  private apply(key: string, operation: 'PUT' | 'DEL' | 'PURGE', value: string): void {
    const dot = key.indexOf('.');
    const isVersion = dot > 0;
    if (operation !== 'PUT') {
      if (isVersion) {
        this.versions.delete(key);
        this.turns.delete(key);
        this.notify(key, 'gone');
      } else this.published.delete(key);
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(value);
    } catch {
      this.logger.warn(`route ${key} ignored: not JSON`);
      return;
    }
    const parsed = (isVersion ? versionRouteSchema : publishedRouteSchema).safeParse(json);
    if (!parsed.success) {
      this.logger.warn(
        `route ${key} ignored: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
      return;
    }
    if (isVersion) {
      this.versions.set(key, parsed.data);
      this.notify(key, parsed.data.scale ?? 'AWAKE');
    } else this.published.set(key, parsed.data as PublishedRoute);
  }

  /** Whether a started version's workloads run (absent state: AWAKE; no route: AWAKE too). */
  scaleOf(runtimeId: string, version: string): ScaleState {
    return this.versions.get(`${runtimeId}.${version}`)?.scale ?? 'AWAKE';
  }

  /** The addresses of the replica whose turn it is (round robin over the route's `replicas`). */
  private replicaOf(key: string, route: VersionRoute): Pick<VersionRoute, 'http' | 'grpc'> {
    const replicas = route.replicas;
    if (!replicas || replicas.length < 2) return { http: route.http, grpc: route.grpc };
    const turn = this.turns.get(key) ?? 0;
    this.turns.set(key, (turn + 1) % replicas.length);
    return replicas[turn % replicas.length];
  }

  /**
   * The target of a request: the runtime's published version, or one started version.
   * @throws NoRouteError with a message for the client.
   */
  resolve(runtimeId: string, version?: string): Target {
    if (version) {
      const route = this.versions.get(`${runtimeId}.${version}`);
      if (!route)
        throw new NoRouteError(`version "${version}" of runtime "${runtimeId}" is not started`);
      return { runtimeId, version, ...route, ...this.replicaOf(`${runtimeId}.${version}`, route) };
    }
    const route = this.published.get(runtimeId);
    // The published record names the version; whether it is awake, and where its replicas
    // serve, is in the version's own.
    if (route) {
      const key = `${runtimeId}.${route.version}`;
      const own = this.versions.get(key);
      if (!own) return { ...route, runtimeId };
      return { ...own, ...route, runtimeId, ...this.replicaOf(key, own) };
    }
    const known = [...this.versions.keys()].some((key) => key.startsWith(`${runtimeId}.`));
    throw new NoRouteError(
      known
        ? `runtime "${runtimeId}" has no published version: publish one, or call /${runtimeId}/versions/<version>/<rpc>`
        : `runtime "${runtimeId}" is not served here (unknown runtime, or none of its versions is started)`,
    );
  }
}
