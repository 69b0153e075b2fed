import { Field, ID, InputType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsString, MaxLength, ValidateNested } from 'class-validator';

/** KRE's lifecycle input: `startVersion(input: {runtimeId, versionName, comment})` and kin. */
@InputType()
export class VersionActionInput {
  @Field(() => ID) @IsString() @MaxLength(15) runtimeId!: string;
  @Field() @IsString() @MaxLength(63) versionName!: string;
  @Field({ defaultValue: '' }) @IsString() @MaxLength(500) comment!: string;
}

@InputType()
export class ConfigurationVariablesInput {
  @Field() @IsString() @MaxLength(128) key!: string;
  @Field({ description: 'A variable value, or a file content.' })
  @IsString()
  @MaxLength(1_048_576, { message: 'must be at most 1 MiB' })
  value!: string;
}

@InputType()
export class UpdateConfigurationInput {
  @Field(() => ID) @IsString() @MaxLength(15) runtimeId!: string;
  @Field() @IsString() @MaxLength(63) versionName!: string;
  @Field(() => [ConfigurationVariablesInput])
  @ArrayMaxSize(500)
  @ValidateNested({ each: true })
  @Type(() => ConfigurationVariablesInput)
  configurationVariables!: ConfigurationVariablesInput[];
}
