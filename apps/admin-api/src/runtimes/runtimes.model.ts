import {
  RuntimeRole,
  formatCpu,
  formatDuration,
  formatMemory,
  type RuntimeQuota as Quota,
} from '@libs/core';
import { Field, ID, Int, ObjectType } from '@nestjs/graphql';
import type { AdminApiEnv } from '../admin-api.env.js';

@ObjectType({ description: 'Where clients call a runtime or a version.' })
export class EntrypointAddress {
  @Field({ description: 'HTTP/JSON: POST <http>/<rpc> with the request as proto3 JSON.' })
  http!: string;
  @Field({ description: 'gRPC host:port; send the metadata listed in `grpcMetadata`.' })
  grpc!: string;
  @Field(() => [String], { description: '`key: value` metadata the gateway routes gRPC calls by.' })
  grpcMetadata!: string[];
}

/** The gateway's public address of the runtime (its published version), or of one version. */
export function entrypointAddress(
  env: AdminApiEnv,
  runtimeId: string,
  versionName?: string,
): EntrypointAddress {
  const http = env.GATEWAY_PUBLIC_HTTP_URL.replace(/\/+$/, '');
  return {
    http: versionName ? `${http}/${runtimeId}/versions/${versionName}` : `${http}/${runtimeId}`,
    grpc: env.GATEWAY_PUBLIC_GRPC_ADDRESS,
    grpcMetadata: [
      `kre-runtime: ${runtimeId}`,
      ...(versionName ? [`kre-version: ${versionName}`] : []),
    ],
  };
}

@ObjectType({
  description:
    'What a runtime’s started versions may hold at once; a start over it is refused before anything is made. Sizes and CPUs in Kubernetes’s units.',
})
export class RuntimeQuota {
  @Field(() => Int, { description: 'Workload replicas (each version’s entrypoint counts one).' })
  replicas!: number;
  @Field({ description: 'The sum of the replicas’ memory limits, e.g. `32Gi`.' })
  memory!: string;
  @Field({ description: 'The sum of the replicas’ CPU limits, e.g. `8` or `500m`.' })
  cpu!: string;
  @Field(() => Int, { description: 'GPUs: one per replica of a `gpu: true` node.' })
  gpus!: number;
  @Field({
    description:
      'JetStream storage of the versions’ streams, KV buckets and object stores, e.g. `16Gi`.',
  })
  storage!: string;
  @Field({
    description:
      'Storage of the runtime’s observability stream (records waiting to be stored), e.g. `1Gi`: past it the oldest are dropped, counted in `kre_obs_records_dropped_total`.',
  })
  observabilityStorage!: string;
  @Field({
    description:
      'How long a record may wait in the runtime’s observability stream, e.g. `7d`: older ones are dropped and counted.',
  })
  observabilityMaxAge!: string;
}

/** The quota as GraphQL shows it. */
export function runtimeQuotaOf(quota: Quota): RuntimeQuota {
  return {
    replicas: quota.replicas,
    memory: formatMemory(quota.memoryBytes),
    cpu: formatCpu(quota.cpuMillis),
    gpus: quota.gpus,
    storage: formatMemory(quota.storageBytes),
    observabilityStorage: formatMemory(quota.obsBytes),
    observabilityMaxAge: formatDuration(quota.obsMaxAgeMs),
  };
}

@ObjectType({
  description: 'A tenant: its own subjects and streams, databases and, on Kubernetes, namespace.',
})
export class Runtime {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field() description!: string;
  @Field({ description: 'CREATING, CREATED, DELETING or ERROR.' }) status!: string;
  @Field(() => String, { nullable: true }) statusMessage?: string | null;
  @Field() creationDate!: Date;
  @Field(() => ID) creationAuthor!: string;
  @Field(() => String, { nullable: true, description: 'The published version, if any.' })
  publishedVersion?: string | null;
  @Field(() => EntrypointAddress, {
    description: "The runtime's stable address (its published version).",
  })
  entrypointAddress!: EntrypointAddress;
  @Field({
    description:
      'Whether the gateway refuses calls that carry none of the runtime’s invocation keys (true for new runtimes; false for runtimes created before keys existed).',
  })
  requireInvocationKey!: boolean;
  @Field(() => RuntimeQuota, {
    description:
      'What the runtime’s started versions may hold: its own, or the installation’s default. Platform admins set it (`setRuntimeQuota`).',
  })
  quota!: RuntimeQuota;
}

@ObjectType()
export class RuntimeMember {
  @Field(() => ID) userId!: string;
  @Field() email!: string;
  @Field(() => RuntimeRole) role!: RuntimeRole;
  @Field() creationDate!: Date;
}
