import type { NatsConnection } from '@nats-io/transport-node';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { Clock } from '@libs/core';
import type { InvocationKeyUsed } from '@libs/messaging';
import { type CallLimits, type CallPermit, isRefusal } from './call-limits.js';
import { type InvocationKeysTable, presentedKey } from './invocation-keys.table.js';
import { NoRouteError, type RouteTable, type Target } from './route-table.js';

type RefusalCode = 'NOT_FOUND' | 'UNAUTHENTICATED' | 'RESOURCE_EXHAUSTED' | 'UNAVAILABLE';
const STATUS: Record<RefusalCode, { http: number; grpc: GrpcStatus }> = {
  NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND },
  UNAUTHENTICATED: { http: 401, grpc: GrpcStatus.UNAUTHENTICATED },
  RESOURCE_EXHAUSTED: { http: 429, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  // A sleeping version not awake within the call's deadline (wake-gate.ts).
  UNAVAILABLE: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
};

/** The gateway's own refusal of a call, the same `{code, message}` body as the data plane's. */
export class GatewayRefusal extends Error {
  constructor(
    readonly code: RefusalCode,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'GatewayRefusal';
  }

  get httpStatus(): number {
    return STATUS[this.code].http;
  }

  get grpcStatus(): GrpcStatus {
    return STATUS[this.code].grpc;
  }

  /** Headers (HTTP) or metadata (gRPC) the answer carries besides the status. */
  get headers(): Record<string, string> {
    if (this.code === 'UNAUTHENTICATED') return { 'www-authenticate': 'Bearer realm="kre"' };
    if (this.retryAfterSeconds !== undefined) {
      return {
        'retry-after': String(this.retryAfterSeconds),
        'grpc-retry-pushback-ms': String(this.retryAfterSeconds * 1000),
      };
    }
    return {};
  }

  toJSON(): { code: RefusalCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/**
 * Whether a request header carries an invocation key: such headers stop at the gateway, so the
 * key never reaches the version's code.
 */
export function carriesKey(name: string, value: unknown): boolean {
  if (name === 'x-api-key') return true;
  return name === 'authorization' && typeof value === 'string' && /^bearer\s+kre_ik_/i.test(value);
}

/** A call let through: where it goes, and the permit to release when it ends. */
export interface Admitted {
  target: Target;
  /** The invocation key's id, when the call carried a valid one. */
  keyId?: string;
  permit: CallPermit;
}

/** Tells admin-api (via NATS) that a key was used, at most once a minute per key. */
export class KeyUsageReporter {
  private readonly lastReported = new Map<string, number>();

  constructor(
    private readonly publish: (report: InvocationKeyUsed) => void,
    private readonly gapMs = 60_000,
  ) {}

  static overNats(nc: NatsConnection, subject: string): KeyUsageReporter {
    return new KeyUsageReporter((report) => {
      try {
        nc.publish(subject, JSON.stringify(report));
      } catch {
        // Last use is informational: a closed connection loses a report, never a call.
      }
    });
  }

  used(runtimeId: string, keyId: string, nowMs: number): void {
    const last = this.lastReported.get(keyId);
    if (last !== undefined && nowMs - last < this.gapMs) return;
    this.lastReported.set(keyId, nowMs);
    this.publish({ runtimeId, keyId, at: new Date(nowMs).toISOString() });
  }
}

/**
 * What every call passes before it is proxied, on HTTP and gRPC alike: the runtime's key check
 * (before the route, so a caller without a key learns nothing of the runtime's versions), the
 * route, then the runtime's and the key's limits.
 */
export class GatewayAdmission {
  constructor(
    private readonly routes: RouteTable,
    private readonly keys: InvocationKeysTable,
    private readonly limits: CallLimits,
    private readonly usage: KeyUsageReporter,
    private readonly clock: Clock,
  ) {}

  /**
   * Where a call admitted earlier goes now (after it was held for a sleeping version).
   * @throws GatewayRefusal NOT_FOUND when its route went away meanwhile
   */
  reroute(runtimeId: string, version: string | undefined): Target {
    try {
      return this.routes.resolve(runtimeId, version);
    } catch (error) {
      if (error instanceof NoRouteError) throw new GatewayRefusal('NOT_FOUND', error.message);
      throw error;
    }
  }

  /** @throws GatewayRefusal */
  admit(
    runtimeId: string,
    version: string | undefined,
    authorization: string | undefined,
    apiKey: string | undefined,
  ): Admitted {
    const nowMs = this.clock.now().getTime();
    const check = this.keys.check(runtimeId, presentedKey(authorization, apiKey), nowMs);
    if (check.outcome === 'refused') throw new GatewayRefusal('UNAUTHENTICATED', check.message);
    let target: Target;
    try {
      target = this.routes.resolve(runtimeId, version);
    } catch (error) {
      if (error instanceof NoRouteError) throw new GatewayRefusal('NOT_FOUND', error.message);
      throw error;
    }
    if (check.outcome === 'unknown-runtime') {
      // Fail closed: admin-api has not published the runtime's keys to this gateway (yet).
      throw new GatewayRefusal(
        'UNAUTHENTICATED',
        `runtime "${runtimeId}" accepts no calls here yet: its invocation keys have not reached this gateway`,
      );
    }
    const permit = this.limits.acquire(runtimeId, check.keyId, nowMs);
    if (isRefusal(permit))
      throw new GatewayRefusal('RESOURCE_EXHAUSTED', permit.message, permit.retryAfterSeconds);
    if (check.keyId) this.usage.used(runtimeId, check.keyId, nowMs);
    return { target, keyId: check.keyId, permit };
  }
}
