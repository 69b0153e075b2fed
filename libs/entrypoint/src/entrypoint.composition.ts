import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { resolveInsideKrt } from '@libs/config';
import { PayloadCodec } from '@libs/messaging/workload';
import { Names } from '@libs/naming';
import type { EntrypointEnv } from './entrypoint.env.js';
import { EntrypointService } from './entrypoint.service.js';
import { GrpcHealthService } from './grpc-health.service.js';
import { GrpcReflectionService } from './grpc-reflection.service.js';
import { EntrypointGrpcServer } from './grpc.server.js';
import { EntrypointHttpServer } from './http.server.js';
import { RequestErrorsService } from './request-errors.service.js';
import { RpcCalls } from './rpc-calls.service.js';
import { loadVersionProto } from './version-proto.loader.js';
import { WorkflowClient } from './workflow.client.js';

/** What the entrypoint takes from its host: the NATS connection. */
export interface EntrypointDeps {
  nc: NatsConnection;
}

/**
 * The entrypoint's composition root: every object of one entrypoint replica, and what each
 * depends on. Nothing listens yet (`EntrypointService.start()` does); the host decides when
 * (main.ts, through @libs/workload's host).
 * @throws KrtPathError, VersionProtoError when the version's proto is outside the KRT or cannot
 *   be served.
 */
export function composeEntrypoint(env: EntrypointEnv, { nc }: EntrypointDeps): EntrypointService {
  const proto = loadVersionProto(
    resolveInsideKrt(env.KRT_BASE_PATH, env.KRT_ENTRYPOINT_PROTO),
    env.KRT_BASE_PATH,
  );
  const replySubject = new Names(env.KRE_PREFIX).entrypointReplySubject(
    env.KRT_RUNTIME_ID,
    env.KRT_VERSION,
    randomBytes(6).toString('hex'),
  );
  const client = new WorkflowClient(nc, replySubject, env.KRT_ENTRYPOINT_ROUTES);
  const calls = new RpcCalls(
    proto,
    client,
    new PayloadCodec(proto.root),
    env.KRT_REQUEST_TIMEOUT * 1000,
    new RequestErrorsService(nc, `${env.KRT_NATS_OBS_PREFIX}.logs`, {
      runtimeId: env.KRT_RUNTIME_ID,
      version: env.KRT_VERSION,
    }),
  );
  const health = new GrpcHealthService(proto.serviceName);
  const reflection = new GrpcReflectionService([proto.packageDefinition, health.packageDefinition]);
  return new EntrypointService(env, {
    proto,
    client,
    grpc: new EntrypointGrpcServer(calls, env.KRT_MAX_REQUEST_BYTES, health, reflection),
    http: new EntrypointHttpServer(calls, env.KRT_MAX_REQUEST_BYTES),
  });
}
