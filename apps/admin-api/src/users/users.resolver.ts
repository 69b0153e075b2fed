import { PlatformRole } from '@libs/core';
import { Args, Int, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { type UserDoc } from '@libs/persistence';
import { CurrentUser, RequirePlatformAdmin, RequireSignedIn } from '../auth/access.decorators.js';
import { ApiTokensService } from '../auth/api-tokens.service.js';
import type { Principal } from '../auth/principal.js';
import { SessionsService } from '../auth/sessions.service.js';
import { ApiToken, toApiToken } from '../auth/api-tokens.model.js';
import { User } from './users.model.js';
import { CreateUserInput, UpdatePlatformRoleInput, UsersInput } from './users.inputs.js';
import { UsersService } from './users.service.js';

export function toUser(doc: UserDoc): User {
  return {
    id: doc._id,
    email: doc.email,
    platformRole: doc.platformRole,
    creationDate: doc.creationDate,
    lastActivity: doc.lastActivity ?? null,
  };
}

/** The caller may see this user's sessions and tokens: it is them, or a platform admin. */
const mayInspect = (user: User, me: Principal) =>
  user.id === me.id || me.platformRole === PlatformRole.ADMIN;

@Resolver(() => User)
export class UsersResolver {
  constructor(
    private readonly usersService: UsersService,
    private readonly sessions: SessionsService,
    private readonly tokens: ApiTokensService,
  ) {}

  @Query(() => User, { description: 'The signed-in user (or the owner of the API token).' })
  @RequireSignedIn()
  async me(@CurrentUser() me: Principal): Promise<User> {
    return toUser(await this.usersService.get(me.id));
  }

  @Query(() => [User], { description: 'Every user that has not been removed.' })
  @RequirePlatformAdmin()
  async users(): Promise<User[]> {
    return (await this.usersService.list()).map(toUser);
  }

  @Mutation(() => User)
  @RequirePlatformAdmin()
  async createUser(
    @Args('input') input: CreateUserInput,
    @CurrentUser() me: Principal,
  ): Promise<User> {
    return toUser(await this.usersService.create(me, input.email, input.platformRole));
  }

  @Mutation(() => [User], {
    description: 'Soft delete: their sessions, tokens and memberships die.',
  })
  @RequirePlatformAdmin()
  async removeUsers(
    @Args('input') input: UsersInput,
    @CurrentUser() me: Principal,
  ): Promise<User[]> {
    return (await this.usersService.remove(me, input.userIds, input.comment)).map(toUser);
  }

  @Mutation(() => [User])
  @RequirePlatformAdmin()
  async updatePlatformRole(
    @Args('input') input: UpdatePlatformRoleInput,
    @CurrentUser() me: Principal,
  ): Promise<User[]> {
    return (
      await this.usersService.updatePlatformRole(
        me,
        input.userIds,
        input.platformRole,
        input.comment,
      )
    ).map(toUser);
  }

  @Mutation(() => [User], {
    description:
      'Ends every session of these users; their API tokens stay unless includeApiTokens is true.',
  })
  @RequirePlatformAdmin()
  async revokeUserSessions(
    @Args('input') input: UsersInput,
    @Args('includeApiTokens', {
      type: () => Boolean,
      nullable: true,
      defaultValue: false,
      description: 'Also delete every API token of these users (refused on their next request).',
    })
    includeApiTokens: boolean | null,
    @CurrentUser() me: Principal,
  ): Promise<User[]> {
    return (
      await this.usersService.revokeSessions(
        me,
        input.userIds,
        input.comment,
        includeApiTokens === true,
      )
    ).map(toUser);
  }

  @ResolveField(() => Int)
  async activeSessions(@Parent() user: User, @CurrentUser() me: Principal): Promise<number> {
    return mayInspect(user, me) ? this.sessions.countLive(user.id) : 0;
  }

  @ResolveField(() => [ApiToken])
  async apiTokens(@Parent() user: User, @CurrentUser() me: Principal): Promise<ApiToken[]> {
    return mayInspect(user, me) ? (await this.tokens.listOf(user.id)).map(toApiToken) : [];
  }
}
