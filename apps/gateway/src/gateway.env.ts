import { baseEnv, natsEnv, ports } from '@libs/config';
import { z } from 'zod';
import { runtimeHostPatterns } from './runtime-host.js';

const limit = (fallback: number) => z.coerce.number().int().min(0).default(fallback);

export const gatewayEnvSchema = z.object({
  ...baseEnv,
  ...natsEnv,
  GATEWAY_HOST: z.string().default('127.0.0.1'),
  /** Clients' HTTP/JSON calls: `POST /<runtimeId>/<rpc>`. */
  GATEWAY_HTTP_PORT: ports.port(9080),
  /** Clients' gRPC calls, routed by the `kre-runtime` metadata. */
  GATEWAY_GRPC_PORT: ports.port(9000),
  /**
   * Host patterns, comma-separated, each with one `*` for the runtime id (`*.kre.example.com`,
   * `entrypoint.kre-*.svc`): a call whose Host (gRPC :authority) matches goes to that runtime with
   * the entrypoint's own paths (`POST /<rpc>`). How a runtime's Ingress and stable Service on
   * Kubernetes lead here (the Helm chart sets them). Unset: routing by path and metadata only.
   */
  GATEWAY_RUNTIME_HOSTS: z
    .string()
    .optional()
    .superRefine((value, ctx) => {
      try {
        runtimeHostPatterns(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
      }
    }),
  /** `/health` and `/livez` on a port of their own, so no runtime id is shadowed. */
  GATEWAY_HEALTH_PORT: ports.port(9081),
  // Limits per runtime and per invocation key (0 turns one off): beyond them calls get 429 with
  // Retry-After (gRPC RESOURCE_EXHAUSTED), so one tenant cannot starve another.
  /** Sustained calls per second to one runtime. */
  GATEWAY_RUNTIME_RATE: limit(1000),
  /** Calls above the sustained rate one runtime may make at once (token bucket size). */
  GATEWAY_RUNTIME_BURST: limit(2000),
  /** Calls in flight at once to one runtime. */
  GATEWAY_RUNTIME_CONCURRENCY: limit(256),
  /** Sustained calls per second with one invocation key. */
  GATEWAY_KEY_RATE: limit(500),
  /** Burst of one invocation key. */
  GATEWAY_KEY_BURST: limit(1000),
  /** Calls in flight at once with one invocation key. */
  GATEWAY_KEY_CONCURRENCY: limit(128),
  // Scale to zero (docs/lifecycle.md, "Sleep and wake"): calls of a sleeping version are held
  // while the deployer wakes it.
  /** The longest a call is held (a gRPC call's own deadline may be shorter); then 503/UNAVAILABLE. */
  GATEWAY_WAKE_HOLD_SECONDS: z.coerce.number().int().min(1).max(600).default(30),
  /** Calls held at once per sleeping version; more get 429/RESOURCE_EXHAUSTED. */
  GATEWAY_WAKE_MAX_HELD: z.coerce.number().int().min(1).max(100_000).default(1_000),
});

export type GatewayEnv = z.infer<typeof gatewayEnvSchema>;
