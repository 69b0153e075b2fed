import { type InvocationKeyDoc } from '@libs/persistence';
import { Field, ID, ObjectType } from '@nestjs/graphql';

@ObjectType({
  description:
    'A key for calling a runtime through the gateway; the key itself is shown once, at creation.',
})
export class InvocationKey {
  @Field(() => ID) id!: string;
  @Field(() => ID) runtimeId!: string;
  @Field() name!: string;
  @Field() createdAt!: Date;
  @Field(() => ID, { description: 'The id of the user who created it.' }) createdBy!: string;
  @Field(() => Date, { nullable: true, description: 'Null: works until revoked.' })
  expiresAt?: Date | null;
  @Field(() => Date, {
    nullable: true,
    description: 'When a gateway last accepted it (recorded at most once a minute).',
  })
  lastUsedAt?: Date | null;
  @Field(() => Date, { nullable: true, description: 'Set once revoked: it no longer works.' })
  revokedAt?: Date | null;
}

@ObjectType()
export class CreatedInvocationKey {
  @Field({
    description:
      'The key, shown this once: send it to the gateway as "Authorization: Bearer <key>" or "x-api-key: <key>".',
  })
  key!: string;
  @Field(() => InvocationKey) invocationKey!: InvocationKey;
}

/** What a client sees of a stored key (never the key or its hash). */
export function toInvocationKey(doc: InvocationKeyDoc): InvocationKey {
  return {
    id: doc._id,
    runtimeId: doc.runtimeId,
    name: doc.name,
    createdAt: doc.createdAt,
    createdBy: doc.createdBy,
    expiresAt: doc.expiresAt ?? null,
    lastUsedAt: doc.lastUsedAt ?? null,
    revokedAt: doc.revokedAt ?? null,
  };
}
