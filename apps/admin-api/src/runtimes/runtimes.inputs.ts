import { RuntimeRole } from '@libs/core';
import { Field, ID, InputType, Int } from '@nestjs/graphql';
import {
  IsBoolean,
  IsEmail,
  IsEnum,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';

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

@InputType({
  description:
    'A runtime’s quota, every field at once (the observability stream’s: when given). Sizes and CPUs in Kubernetes’s units (`32Gi`, `512Mi`; `8`, `0.5`, `500m`).',
})
export class SetRuntimeQuotaInput {
  @Field(() => ID) @IsString() @MaxLength(15) runtimeId!: string;
  @Field(() => Int, { description: 'Workload replicas (each version’s entrypoint counts one).' })
  @IsInt({ message: 'must be a whole number' })
  @Min(0, { message: 'must be 0 or more' })
  @Max(100_000, { message: 'must be at most 100000' })
  replicas!: number;
  @Field({ description: 'The sum of the replicas’ memory limits, e.g. `32Gi`.' })
  @IsString()
  @MaxLength(20)
  memory!: string;
  @Field({ description: 'The sum of the replicas’ CPU limits, e.g. `8`.' })
  @IsString()
  @MaxLength(20)
  cpu!: string;
  @Field(() => Int, { description: 'GPUs (one per replica of a `gpu: true` node).' })
  @IsInt({ message: 'must be a whole number' })
  @Min(0, { message: 'must be 0 or more' })
  @Max(100_000, { message: 'must be at most 100000' })
  gpus!: number;
  @Field({
    description:
      'JetStream storage of the versions’ streams, KV buckets and object stores, e.g. `16Gi`.',
  })
  @IsString()
  @MaxLength(20)
  storage!: string;
  @Field(() => String, {
    nullable: true,
    description:
      'Storage of the runtime’s observability stream (records waiting to be stored), e.g. `1Gi`; at least `1Mi`. Past it the oldest are dropped and counted. Absent: unchanged.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(20)
  observabilityStorage?: string | null;
  @Field(() => String, {
    nullable: true,
    description:
      'How long a record may wait in the runtime’s observability stream, e.g. `7d`, `36h`, `90m`; at least `1m`. Absent: unchanged.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(20)
  observabilityMaxAge?: string | null;
  @Field({ description: 'Why: recorded in the audit log.' })
  @IsString()
  @MaxLength(500)
  comment!: string;
}
