import { type ApiTokenDoc } from '@libs/persistence';
import { Field, ID, ObjectType } from '@nestjs/graphql';

@ObjectType({ description: 'A token for programs; its secret is shown once, at generation.' })
export class ApiToken {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field() creationDate!: Date;
  @Field() expiresAt!: Date;
  @Field(() => Date, { nullable: true }) lastUsedAt?: Date | null;
}

@ObjectType()
export class GeneratedApiToken {
  @Field({
    description: 'The secret, shown this once: send it as "Authorization: Bearer <token>".',
  })
  token!: string;
  @Field(() => ApiToken) apiToken!: ApiToken;
}

/** What a client sees of a stored token (never the secret or its hash). */
export function toApiToken(doc: ApiTokenDoc): ApiToken {
  return {
    id: doc.id,
    name: doc.name,
    creationDate: doc.creationDate,
    expiresAt: doc.expiresAt,
    lastUsedAt: doc.lastUsedAt ?? null,
  };
}
