import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { ApiToken, GeneratedApiToken, toApiToken } from './api-tokens.model.js';
import { DeleteApiTokenInput, GenerateApiTokenInput } from './api-tokens.inputs.js';
import { CurrentUser, RequireSignedIn } from './access.decorators.js';
import { ApiTokensService } from './api-tokens.service.js';
import type { Principal } from './principal.js';

@Resolver(() => ApiToken)
export class ApiTokensResolver {
  constructor(private readonly tokens: ApiTokensService) {}

  @Query(() => [ApiToken], { description: 'Your API tokens (never their secrets).' })
  @RequireSignedIn()
  async apiTokens(@CurrentUser() me: Principal): Promise<ApiToken[]> {
    return (await this.tokens.listOf(me.id)).map(toApiToken);
  }

  @Mutation(() => GeneratedApiToken, {
    description: 'The secret is in the answer, and only there.',
  })
  @RequireSignedIn()
  async generateApiToken(
    @Args('input') input: GenerateApiTokenInput,
    @CurrentUser() me: Principal,
  ): Promise<GeneratedApiToken> {
    const { token, apiToken } = await this.tokens.generate(me, input.name, input.expiresInDays);
    return { token, apiToken: toApiToken(apiToken) };
  }

  @Mutation(() => ApiToken, {
    description: 'Deletes one of your tokens (platform admins: anyone’s).',
  })
  @RequireSignedIn()
  async deleteApiToken(
    @Args('input') input: DeleteApiTokenInput,
    @CurrentUser() me: Principal,
  ): Promise<ApiToken> {
    return toApiToken(await this.tokens.delete(me, input.id));
  }
}
