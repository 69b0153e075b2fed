import { baseEnv, natsEnv, ports } from '@libs/config';
import { z } from 'zod';

export const gatewayEnvSchema = z.object({
  ...baseEnv,
  ...natsEnv,
  GATEWAY_HOST: z.string().default('127.0.0.1'),
  /** Clients' HTTP/JSON calls: `POST /<runtimeId>/<rpc>`. */
  GATEWAY_HTTP_PORT: ports.port(9080),
  /** Clients' gRPC calls, routed by the `kre-runtime` metadata. */
  GATEWAY_GRPC_PORT: ports.port(9000),
  /** `/health` and `/livez` on a port of their own, so no runtime id is shadowed. */
  GATEWAY_HEALTH_PORT: ports.port(9081),
});

export type GatewayEnv = z.infer<typeof gatewayEnvSchema>;
