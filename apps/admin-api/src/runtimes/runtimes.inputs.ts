import { RuntimeRole } from '@libs/core';
import { Field, ID, InputType } from '@nestjs/graphql';
import { IsBoolean, IsEmail, IsEnum, IsString, Length, Matches, MaxLength } from 'class-validator';

const SLUG = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const NO_DOUBLE_DASH = /^(?!.*--)/;
/**
 * `invocation` would name its version `keys`'s KV bucket `<p>_invocation_keys`, the gateways'
 * bucket of invocation keys (libs/naming).
 */
const NOT_RESERVED = /^(?!invocation$)/;
const RESERVED_RULE = 'is reserved (KRE names one of its own buckets after it)';
const RUNTIME_ID_RULE =
  'must be 3-15 lowercase letters, digits and single dashes, starting with a letter and not ending with a dash';

@InputType()
export class CreateRuntimeInput {
  @Field(() => ID, { description: 'Becomes part of every name of the runtime: 3-15 of [a-z0-9-].' })
  @Length(3, 15, { message: RUNTIME_ID_RULE })
  @Matches(SLUG, { message: RUNTIME_ID_RULE })
  @Matches(NO_DOUBLE_DASH, { message: 'must not contain "--"' })
  @Matches(NOT_RESERVED, { message: RESERVED_RULE })
  id!: string;

  @Field()
  @IsString()
  @Length(1, 40, { message: 'must be 1-40 characters' })
  name!: string;

  @Field({ defaultValue: '' })
  @IsString()
  @MaxLength(500)
  description!: string;
}

@InputType()
export class UpdateRuntimeInput {
  @Field(() => ID) @IsString() @MaxLength(15) id!: string;
  @Field({
    description:
      'true: the gateway refuses calls without one of the runtime’s invocation keys; false: anyone may call it.',
  })
  @IsBoolean({ message: 'must be true or false' })
  requireInvocationKey!: boolean;
}

@InputType()
export class DeleteRuntimeInput {
  @Field(() => ID) @IsString() @MaxLength(15) id!: string;
  @Field({ description: 'Why: recorded in the audit log.' })
  @IsString()
  @MaxLength(500)
  comment!: string;
}

@InputType()
export class AddRuntimeMemberInput {
  @Field(() => ID) @IsString() @MaxLength(15) runtimeId!: string;
  @Field() @IsEmail({}, { message: 'must be an email address' }) @MaxLength(254) email!: string;
  @Field(() => RuntimeRole)
  @IsEnum(RuntimeRole, { message: 'must be VIEWER, MANAGER or ADMIN' })
  role!: RuntimeRole;
}

@InputType()
export class UpdateRuntimeMemberRoleInput {
  @Field(() => ID) @IsString() @MaxLength(15) runtimeId!: string;
  @Field(() => ID) @IsString() @MaxLength(64) userId!: string;
  @Field(() => RuntimeRole)
  @IsEnum(RuntimeRole, { message: 'must be VIEWER, MANAGER or ADMIN' })
  role!: RuntimeRole;
}

@InputType()
export class RemoveRuntimeMemberInput {
  @Field(() => ID) @IsString() @MaxLength(15) runtimeId!: string;
  @Field(() => ID) @IsString() @MaxLength(64) userId!: string;
}
