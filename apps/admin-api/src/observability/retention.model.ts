import { Field, ID, InputType, Int, ObjectType } from '@nestjs/graphql';
import { OBS_RETENTION_MAX_DAYS, OBS_RETENTION_MIN_DAYS } from '@libs/observability';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

@ObjectType({
  description:
    "How long a runtime's logs, metrics, predictions and measurements are kept: whole days older than this are dropped.",
})
export class ObservabilityRetention {
  @Field(() => ID) runtimeId!: string;
  @Field(() => Int) days!: number;
  @Field({ description: "True when it is the installation's default (OBS_RETENTION_DAYS)." })
  isDefault!: boolean;
  @Field(() => Date, { nullable: true }) updatedAt!: Date | null;
  @Field(() => String, { nullable: true, description: 'Who set it (user id).' })
  updatedBy!: string | null;
}

@InputType()
export class SetObservabilityRetentionInput {
  @Field(() => ID)
  @IsString()
  @MaxLength(63)
  runtimeId!: string;

  @Field(() => Int, {
    nullable: true,
    description: `${OBS_RETENTION_MIN_DAYS} to ${OBS_RETENTION_MAX_DAYS}; null: back to the installation's default.`,
  })
  @IsOptional()
  @IsInt()
  @Min(OBS_RETENTION_MIN_DAYS, { message: `must be at least ${OBS_RETENTION_MIN_DAYS}` })
  @Max(OBS_RETENTION_MAX_DAYS, { message: `must be at most ${OBS_RETENTION_MAX_DAYS}` })
  days?: number | null;
}
