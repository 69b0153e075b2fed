import { RuntimeRole } from '@libs/core';
import { Args, ID, Mutation, Query, Resolver } from '@nestjs/graphql';
import { CurrentUser, RequireRuntimeRole } from '../auth/access.decorators.js';
import type { Principal } from '../auth/principal.js';
import { ObservabilityRetention, SetObservabilityRetentionInput } from './retention.model.js';
import { RetentionService } from './retention.service.js';

@Resolver(() => ObservabilityRetention)
export class RetentionResolver {
  constructor(private readonly retention: RetentionService) {}

  @Query(() => ObservabilityRetention, {
    description: "How long the runtime's observability records are kept (members of the runtime).",
  })
  @RequireRuntimeRole(RuntimeRole.VIEWER, 'runtimeId')
  observabilityRetention(
    @Args('runtimeId', { type: () => ID }) runtimeId: string,
  ): Promise<ObservabilityRetention> {
    return this.retention.get(runtimeId);
  }

  @Mutation(() => ObservabilityRetention, {
    description:
      "Sets how many days of the runtime's logs, metrics, predictions and measurements are kept (its ADMINs); mongo-writer drops older days on its next sweep.",
  })
  @RequireRuntimeRole(RuntimeRole.ADMIN, 'input.runtimeId')
  setObservabilityRetention(
    @Args('input') input: SetObservabilityRetentionInput,
    @CurrentUser() me: Principal,
  ): Promise<ObservabilityRetention> {
    return this.retention.set(input.runtimeId, input.days ?? null, me);
  }
}
