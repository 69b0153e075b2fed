import { Type } from 'class-transformer';
import { ArgsType, Field, ID, InputType } from '@nestjs/graphql';
import {
  ArrayMaxSize,
  IsDate,
  IsEnum,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { TimeBucket } from './time-bucket.js';

const SLUG = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const SLUG_MESSAGE = 'must be lowercase letters, digits and dashes, starting with a letter';

/** A runtime's version over a time range: what every metrics query starts from. */
@ArgsType()
class VersionRangeArgs {
  @Field(() => ID)
  @IsString()
  @MaxLength(63)
  runtimeId!: string;

  @Field()
  @IsString()
  @MaxLength(63)
  @Matches(SLUG, { message: SLUG_MESSAGE })
  versionName!: string;
}

@ArgsType()
export class MetricsArgs extends VersionRangeArgs {
  @Field({ description: 'From this moment (included).' })
  @IsDate()
  startDate!: Date;

  @Field({ nullable: true, description: 'Up to this moment (included); default now.' })
  @IsOptional()
  @IsDate()
  endDate?: Date;
}

@ArgsType()
export class NodeMetricsArgs extends VersionRangeArgs {
  @Field({ description: 'From this moment (included).' })
  @IsDate()
  from!: Date;

  @Field({ nullable: true, description: 'Up to this moment (included); default now.' })
  @IsOptional()
  @IsDate()
  to?: Date;

  @Field(() => TimeBucket, { defaultValue: TimeBucket.MINUTE })
  @IsEnum(TimeBucket)
  bucket: TimeBucket = TimeBucket.MINUTE;
}

@InputType()
export class TagInput {
  @Field() @IsString() @MinLength(1) @MaxLength(100) key!: string;
  @Field() @IsString() @MaxLength(200) value!: string;
}

@ArgsType()
export class MeasurementsArgs extends NodeMetricsArgs {
  @Field()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name!: string;

  @Field(() => [TagInput], { nullable: true, description: 'Points having all of these tags.' })
  @IsOptional()
  @ArrayMaxSize(20)
  @ValidateNested({ each: true })
  @Type(() => TagInput)
  tags?: TagInput[];
}
