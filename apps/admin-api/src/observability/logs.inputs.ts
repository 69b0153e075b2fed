import { Type } from 'class-transformer';
import { ArgsType, Field, ID, InputType, Int } from '@nestjs/graphql';
import {
  ArrayMaxSize,
  IsDate,
  IsEnum,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { LogLevel } from './logs.model.js';

export const LOGS_PAGE_DEFAULT = 40;
export const LOGS_PAGE_MAX = 100;
/** The longest range a query may span (the longest retention, plus a day). */
export const OBS_RANGE_MAX_DAYS = 366;

const SLUG = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const SLUG_MESSAGE = 'must be lowercase letters, digits and dashes, starting with a letter';
/** An optional list of at most 50 names of at most 63 characters, slugs when `slugs`. */
function NameList(slugs: boolean): PropertyDecorator {
  const decorators = [
    IsOptional(),
    ArrayMaxSize(50),
    IsString({ each: true }),
    MaxLength(63, { each: true }),
    ...(slugs ? [Matches(SLUG, { each: true, message: SLUG_MESSAGE })] : []),
  ];
  return (target, key) => {
    for (const decorator of decorators) decorator(target, key);
  };
}

/** What every log query and the live tail filter on. */
@InputType()
export class LogTailFilters {
  @Field({ nullable: true, description: 'Case-insensitive substring of the message.' })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  search?: string;

  @Field(() => [LogLevel], { nullable: true })
  @IsOptional()
  @ArrayMaxSize(4)
  @IsEnum(LogLevel, { each: true })
  levels?: LogLevel[];

  @Field(() => [String], { nullable: true })
  @NameList(true)
  workflowNames?: string[];

  @Field(() => [String], { nullable: true, description: 'Node ids, or `entrypoint`.' })
  @NameList(false)
  nodeNames?: string[];

  @Field({ nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  requestId?: string;
}

@InputType()
export class LogFilters extends LogTailFilters {
  @Field({ description: 'From this moment (included).' })
  @IsDate()
  startDate!: Date;

  @Field({ nullable: true, description: 'Up to this moment (included); default now.' })
  @IsOptional()
  @IsDate()
  endDate?: Date;

  @Field(() => [String], { nullable: true })
  @NameList(true)
  versionNames?: string[];
}

@ArgsType()
export class LogsArgs {
  @Field(() => ID)
  @IsString()
  @MaxLength(63)
  runtimeId!: string;

  @Field(() => LogFilters)
  @ValidateNested()
  @Type(() => LogFilters)
  filters!: LogFilters;

  @Field(() => String, { nullable: true, description: 'The cursor of the previous page.' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  cursor?: string;

  @Field(() => Int, { nullable: true, defaultValue: LOGS_PAGE_DEFAULT })
  @IsInt()
  @Min(1)
  @Max(LOGS_PAGE_MAX, { message: `must be at most ${LOGS_PAGE_MAX}` })
  limit: number = LOGS_PAGE_DEFAULT;
}

@ArgsType()
export class WatchNodeLogsArgs {
  @Field(() => ID)
  @IsString()
  @MaxLength(63)
  runtimeId!: string;

  @Field()
  @IsString()
  @MaxLength(63)
  @Matches(SLUG, { message: SLUG_MESSAGE })
  versionName!: string;

  @Field(() => LogTailFilters, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => LogTailFilters)
  filters?: LogTailFilters;
}
