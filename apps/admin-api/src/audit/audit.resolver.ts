import { UserActivityType } from '@libs/core';
import { Type } from 'class-transformer';
import {
  Args,
  ArgsType,
  Field,
  ID,
  InputType,
  Int,
  ObjectType,
  Query,
  Resolver,
  Subscription,
  registerEnumType,
} from '@nestjs/graphql';
import {
  ArrayMaxSize,
  IsDate,
  IsEmail,
  IsEnum,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { type UserActivityDoc } from '@libs/persistence';
import { RequireRuntimeRole } from '../auth/access.decorators.js';
import { AuditService } from './audit.service.js';

registerEnumType(UserActivityType, { name: 'UserActivityType' });

@ObjectType()
export class UserActivityVar {
  @Field() key!: string;
  @Field() value!: string;
}

@ObjectType()
export class UserActivity {
  @Field(() => ID) id!: string;
  @Field(() => UserActivityType) type!: UserActivityType;
  @Field(() => ID) userId!: string;
  @Field({ description: "The user's address when it happened." }) userEmail!: string;
  @Field() date!: Date;
  @Field(() => String, { nullable: true }) runtimeId?: string | null;
  @Field(() => [UserActivityVar]) vars!: UserActivityVar[];
}

@ObjectType()
export class UserActivityPage {
  @Field(() => [UserActivity]) items!: UserActivity[];
  @Field(() => String, {
    nullable: true,
    description: 'Pass it back for older entries; null on the last page.',
  })
  cursor!: string | null;
}

@InputType()
export class UserActivityFilters {
  @Field({ nullable: true })
  @IsOptional()
  @IsEmail({}, { message: 'must be an email address' })
  userEmail?: string;

  @Field(() => [UserActivityType], { nullable: true })
  @IsOptional()
  @ArrayMaxSize(50)
  @IsEnum(UserActivityType, { each: true })
  types?: UserActivityType[];

  @Field({ nullable: true, description: 'Required unless you are a platform admin.' })
  @IsOptional()
  @IsString()
  @MaxLength(63)
  runtimeId?: string;

  @Field({ nullable: true }) @IsOptional() @IsDate() fromDate?: Date;
  @Field({ nullable: true }) @IsOptional() @IsDate() toDate?: Date;
}

export const ACTIVITY_PAGE_DEFAULT = 30;
export const ACTIVITY_PAGE_MAX = 100;

@ArgsType()
export class UserActivityListArgs {
  @Field(() => UserActivityFilters, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => UserActivityFilters)
  filters?: UserActivityFilters;

  @Field(() => String, { nullable: true, description: 'The cursor of the previous page.' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  cursor?: string;

  @Field(() => Int, { nullable: true, defaultValue: ACTIVITY_PAGE_DEFAULT })
  @IsInt()
  @Min(1)
  @Max(ACTIVITY_PAGE_MAX, { message: `must be at most ${ACTIVITY_PAGE_MAX}` })
  limit: number = ACTIVITY_PAGE_DEFAULT;
}

export function toUserActivity(doc: UserActivityDoc): UserActivity {
  return {
    id: doc._id,
    type: doc.type,
    userId: doc.userId,
    userEmail: doc.userEmail,
    date: doc.date,
    runtimeId: doc.runtimeId ?? null,
    vars: doc.vars.map(({ key, value }) => ({ key, value })),
  };
}

@Resolver(() => UserActivity)
export class AuditResolver {
  constructor(private readonly audit: AuditService) {}

  @Query(() => UserActivityPage, {
    description:
      'The audit log, newest first: all of it for platform admins, one runtime for its admins.',
  })
  @RequireRuntimeRole('ADMIN', 'filters.runtimeId')
  async userActivityList(@Args() args: UserActivityListArgs): Promise<UserActivityPage> {
    const page = await this.audit.list(args.filters ?? {}, args.cursor ?? undefined, args.limit);
    return { items: page.items.map(toUserActivity), cursor: page.cursor };
  }

  @Subscription(() => UserActivity, {
    description: 'New audit entries: of one runtime (its admins), or of all (platform admins).',
    resolve: (event: UserActivityDoc) => toUserActivity(event),
  })
  @RequireRuntimeRole('ADMIN', 'runtimeId')
  watchUserActivity(
    @Args('runtimeId', { type: () => String, nullable: true }) runtimeId: string | undefined,
  ): AsyncIterableIterator<UserActivityDoc> {
    return this.audit.watch(runtimeId ?? undefined);
  }
}
