import { RuntimeRole } from '@libs/core';
import { type RuntimeDoc, quotaOf, requiresInvocationKey } from '@libs/persistence';
import { Inject } from '@nestjs/common';
import { Args, ID, Mutation, Query, Resolver } from '@nestjs/graphql';
import { ADMIN_API_ENV, type AdminApiEnv } from '../admin-api.env.js';
import {
  CurrentUser,
  RequirePlatformAdmin,
  RequireRuntimeRole,
  RequireSignedIn,
} from '../auth/access.decorators.js';
import type { Principal } from '../auth/principal.js';
import { InvocationKeysService } from '../invocation-keys/invocation-keys.service.js';
import {
  AddRuntimeMemberInput,
  CreateRuntimeInput,
  DeleteRuntimeInput,
  RemoveRuntimeMemberInput,
  SetRuntimeQuotaInput,
  UpdateRuntimeInput,
  UpdateRuntimeMemberRoleInput,
} from './runtimes.inputs.js';
import { Runtime, RuntimeMember, entrypointAddress, runtimeQuotaOf } from './runtimes.model.js';
import { RuntimesService } from './runtimes.service.js';

@Resolver(() => Runtime)
export class RuntimesResolver {
  constructor(
    private readonly runtimesService: RuntimesService,
    private readonly invocationKeys: InvocationKeysService,
    @Inject(ADMIN_API_ENV) private readonly env: AdminApiEnv,
  ) {}

  private toRuntime(doc: RuntimeDoc): Runtime {
    return {
      id: doc._id,
      name: doc.name,
      description: doc.description,
      status: doc.status,
      statusMessage: doc.statusMessage ?? null,
      creationDate: doc.createdAt,
      creationAuthor: doc.createdBy,
      entrypointAddress: entrypointAddress(this.env, doc._id),
      requireInvocationKey: requiresInvocationKey(doc),
      quota: runtimeQuotaOf(quotaOf(doc, this.runtimesService.defaultQuota)),
    };
  }

  @Query(() => Runtime)
  @RequireRuntimeRole(RuntimeRole.VIEWER, 'id')
  async runtime(@Args('id', { type: () => ID }) id: string): Promise<Runtime> {
    return this.toRuntime(await this.runtimesService.get(id));
  }

  @Query(() => [Runtime], {
    description: 'The runtimes you are a member of (platform admins: all).',
  })
  @RequireSignedIn()
  async runtimes(@CurrentUser() me: Principal): Promise<Runtime[]> {
    return (await this.runtimesService.list(me)).map((r) => this.toRuntime(r));
  }

  @Mutation(() => Runtime)
  @RequirePlatformAdmin()
  async createRuntime(
    @Args('input') input: CreateRuntimeInput,
    @CurrentUser() me: Principal,
  ): Promise<Runtime> {
    return this.toRuntime(await this.runtimesService.create(me, input));
  }

  @Mutation(() => Runtime, {
    description:
      'Changes the runtime’s settings: `requireInvocationKey` reaches the gateways within seconds.',
  })
  @RequireRuntimeRole(RuntimeRole.ADMIN, 'input.id')
  async updateRuntime(
    @Args('input') input: UpdateRuntimeInput,
    @CurrentUser() me: Principal,
  ): Promise<Runtime> {
    return this.toRuntime(
      await this.invocationKeys.setRequired(me, input.id, input.requireInvocationKey),
    );
  }

  @Mutation(() => Runtime, {
    description:
      'Sets what the runtime’s started versions may hold (platform admins). Running versions keep running; the next start is checked against it.',
  })
  @RequirePlatformAdmin()
  async setRuntimeQuota(
    @Args('input') input: SetRuntimeQuotaInput,
    @CurrentUser() me: Principal,
  ): Promise<Runtime> {
    return this.toRuntime(
      await this.runtimesService.setQuota(me, input.runtimeId, input, input.comment),
    );
  }

  @Mutation(() => Runtime, {
    description: 'Refused while a version runs; a job removes everything the runtime owns.',
  })
  @RequireRuntimeRole(RuntimeRole.ADMIN, 'input.id')
  async deleteRuntime(
    @Args('input') input: DeleteRuntimeInput,
    @CurrentUser() me: Principal,
  ): Promise<Runtime> {
    return this.toRuntime(await this.runtimesService.delete(me, input.id, input.comment));
  }

  @Query(() => [RuntimeMember])
  @RequireRuntimeRole(RuntimeRole.VIEWER, 'runtimeId')
  runtimeMembers(
    @Args('runtimeId', { type: () => ID }) runtimeId: string,
  ): Promise<RuntimeMember[]> {
    return this.runtimesService.members(runtimeId);
  }

  @Mutation(() => RuntimeMember)
  @RequireRuntimeRole(RuntimeRole.ADMIN, 'input.runtimeId')
  addRuntimeMember(
    @Args('input') input: AddRuntimeMemberInput,
    @CurrentUser() me: Principal,
  ): Promise<RuntimeMember> {
    return this.runtimesService.addMember(me, input.runtimeId, input.email, input.role);
  }

  @Mutation(() => RuntimeMember)
  @RequireRuntimeRole(RuntimeRole.ADMIN, 'input.runtimeId')
  updateRuntimeMemberRole(
    @Args('input') input: UpdateRuntimeMemberRoleInput,
    @CurrentUser() me: Principal,
  ): Promise<RuntimeMember> {
    return this.runtimesService.updateMemberRole(me, input.runtimeId, input.userId, input.role);
  }

  @Mutation(() => RuntimeMember)
  @RequireRuntimeRole(RuntimeRole.ADMIN, 'input.runtimeId')
  removeRuntimeMember(
    @Args('input') input: RemoveRuntimeMemberInput,
    @CurrentUser() me: Principal,
  ): Promise<RuntimeMember> {
    return this.runtimesService.removeMember(me, input.runtimeId, input.userId);
  }
}
