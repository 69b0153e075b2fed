import { PlatformRole, RuntimeRole } from '@libs/core';
import { Field, ID, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { ApiToken } from '../auth/api-tokens.model.js';

registerEnumType(PlatformRole, {
  name: 'PlatformRole',
  description: 'What a user may do on the whole platform.',
});
registerEnumType(RuntimeRole, {
  name: 'RuntimeRole',
  description: 'What a member may do on one runtime: VIEWER < MANAGER < ADMIN.',
});

@ObjectType()
export class User {
  @Field(() => ID) id!: string;
  @Field() email!: string;
  @Field(() => PlatformRole) platformRole!: PlatformRole;
  @Field() creationDate!: Date;
  @Field(() => Date, { nullable: true }) lastActivity?: Date | null;
  @Field(() => Int, { description: 'Sessions that have not reached their absolute expiry.' })
  activeSessions?: number;
  @Field(() => [ApiToken], {
    description: "The user's API tokens (yours, or anyone's for platform admins).",
  })
  apiTokens?: ApiToken[];
}
