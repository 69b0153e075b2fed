import { RuntimeRole } from '@libs/core';
import { Args, ID, Mutation, Query, Resolver } from '@nestjs/graphql';
import { CurrentUser, RequireRuntimeRole } from '../auth/access.decorators.js';
import type { Principal } from '../auth/principal.js';
import { CreateInvocationKeyInput } from './invocation-keys.inputs.js';
import { CreatedInvocationKey, InvocationKey, toInvocationKey } from './invocation-keys.model.js';
import { InvocationKeysService } from './invocation-keys.service.js';

/** A runtime's keys for calling it through the gateway: its ADMINs manage them. */
@Resolver(() => InvocationKey)
export class InvocationKeysResolver {
  constructor(private readonly keys: InvocationKeysService) {}

  @Query(() => [InvocationKey], {
    description: "The runtime's invocation keys, revoked ones included (never the keys).",
  })
  @RequireRuntimeRole(RuntimeRole.ADMIN, 'runtimeId')
  async invocationKeys(
    @Args('runtimeId', { type: () => ID }) runtimeId: string,
  ): Promise<InvocationKey[]> {
    return (await this.keys.list(runtimeId)).map(toInvocationKey);
  }

  @Mutation(() => CreatedInvocationKey, {
    description: 'The key is in the answer, and only there; gateways accept it within seconds.',
  })
  @RequireRuntimeRole(RuntimeRole.ADMIN, 'runtimeId')
  async createInvocationKey(
    @Args('runtimeId', { type: () => ID }) runtimeId: string,
    @Args('input') input: CreateInvocationKeyInput,
    @CurrentUser() me: Principal,
  ): Promise<CreatedInvocationKey> {
    const { key, invocationKey } = await this.keys.create(
      me,
      runtimeId,
      input.name,
      input.expiresAt,
    );
    return { key, invocationKey: toInvocationKey(invocationKey) };
  }

  @Mutation(() => InvocationKey, {
    description: 'Gateways refuse the key within seconds; revoking it again publishes once more.',
  })
  @RequireRuntimeRole(RuntimeRole.ADMIN, 'runtimeId')
  async revokeInvocationKey(
    @Args('runtimeId', { type: () => ID }) runtimeId: string,
    @Args('id', { type: () => ID }) id: string,
    @CurrentUser() me: Principal,
  ): Promise<InvocationKey> {
    return toInvocationKey(await this.keys.revoke(me, runtimeId, id));
  }
}
