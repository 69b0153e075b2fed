import { RuntimeRole } from '@libs/core';
import { Field, ID, ObjectType } from '@nestjs/graphql';
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
}

@ObjectType()
export class RuntimeMember {
  @Field(() => ID) userId!: string;
  @Field() email!: string;
  @Field(() => RuntimeRole) role!: RuntimeRole;
  @Field() creationDate!: Date;
}
