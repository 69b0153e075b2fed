import { RuntimeRole } from '@libs/core';
import { Args, Query, Resolver } from '@nestjs/graphql';
import { RequireRuntimeRole } from '../auth/access.decorators.js';
import { ReplicaResources, ReplicaResourcesArgs } from './replica-resources.model.js';
import { ReplicaResourcesService } from './replica-resources.service.js';

/** A version's replicas' CPU, memory and restarts (members of the runtime). */
@Resolver()
export class ReplicaResourcesResolver {
  constructor(private readonly service: ReplicaResourcesService) {}

  @Query(() => [ReplicaResources], {
    description:
      "Each replica's CPU, memory and restarts as last sampled (within two minutes); over time: `measurements` of `kre_replica_resources`.",
  })
  @RequireRuntimeRole(RuntimeRole.VIEWER, 'runtimeId')
  replicaResources(@Args() args: ReplicaResourcesArgs): Promise<ReplicaResources[]> {
    return this.service.latest(args.runtimeId, args.versionName);
  }
}
