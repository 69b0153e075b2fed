import { Field, ID, InputType, Int } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsInt,
  IsOptional,
  IsString,
  Max,
  Min,
  MaxLength,
  ValidateNested,
} from 'class-validator';

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
export class UnsetConfigurationInput {
  @Field(() => ID) @IsString() @MaxLength(15) runtimeId!: string;
  @Field() @IsString() @MaxLength(63) versionName!: string;
  @Field(() => [String], { description: 'The config keys whose values go (each then not set).' })
  @ArrayMinSize(1)
  @ArrayMaxSize(500)
  @IsString({ each: true })
  @MaxLength(128, { each: true })
  keys!: string[];
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

/** The longest idle time a version may have: 30 days. */
export const MAX_IDLE_SECONDS = 2_592_000;

@InputType()
export class UpdateVersionScaleInput {
  @Field(() => ID) @IsString() @MaxLength(15) runtimeId!: string;
  @Field() @IsString() @MaxLength(63) versionName!: string;
  @Field(() => Int, {
    nullable: true,
    description:
      "Seconds without a call before the version's workloads are released (0: never sleeps); null: the installation's default.",
  })
  @IsOptional()
  @IsInt({ message: 'must be a whole number of seconds' })
  @Min(0, { message: 'must be 0 (never sleeps) or more' })
  @Max(MAX_IDLE_SECONDS, { message: `must be at most ${MAX_IDLE_SECONDS} (30 days)` })
  idleSeconds?: number | null;
  @Field({ defaultValue: '' }) @IsString() @MaxLength(500) comment!: string;
}

/**
 * The most replicas autoscaling may give one node, or the entrypoint (the runtime's quota caps the
 * total too).
 */
export const MAX_NODE_REPLICAS = 100;

/** A workload's replica bounds as a MANAGER sends them: a node's or the entrypoint's. */
@InputType({ isAbstract: true })
abstract class ReplicaBoundsInput {
  @Field(() => ID) @IsString() @MaxLength(15) runtimeId!: string;
  @Field() @IsString() @MaxLength(63) versionName!: string;
  @Field(() => Int, {
    nullable: true,
    description:
      "The fewest replicas, also the starting count; null with max null: no autoscaling (a node runs the KRT's replicas, the entrypoint one).",
  })
  @IsOptional()
  @IsInt({ message: 'must be a whole number of replicas' })
  @Min(1, { message: 'must be 1 or more (a version sleeps as a whole: updateVersionScale)' })
  @Max(MAX_NODE_REPLICAS, { message: `must be at most ${MAX_NODE_REPLICAS}` })
  min?: number | null;
  @Field(() => Int, {
    nullable: true,
    description: 'The most replicas (at least min; equal to min: a fixed count, no autoscaling).',
  })
  @IsOptional()
  @IsInt({ message: 'must be a whole number of replicas' })
  @Min(1, { message: 'must be 1 or more' })
  @Max(MAX_NODE_REPLICAS, { message: `must be at most ${MAX_NODE_REPLICAS}` })
  max?: number | null;
  @Field({ defaultValue: '' }) @IsString() @MaxLength(500) comment!: string;
}

@InputType()
export class UpdateNodeAutoscaleInput extends ReplicaBoundsInput {
  @Field({ description: 'The workflow of the node (its name, as in Version.workflows).' })
  @IsString()
  @MaxLength(63)
  workflowName!: string;
  @Field({ description: "The node's name (the slug, as in Version.workflows.nodes)." })
  @IsString()
  @MaxLength(63)
  nodeName!: string;
}

@InputType()
export class UpdateEntrypointAutoscaleInput extends ReplicaBoundsInput {}
