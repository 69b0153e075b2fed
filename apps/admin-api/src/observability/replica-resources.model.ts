import { ArgsType, Field, Float, ID, Int, ObjectType } from '@nestjs/graphql';
import { IsString, Matches, MaxLength } from 'class-validator';

@ArgsType()
export class ReplicaResourcesArgs {
  @Field(() => ID)
  @IsString()
  @MaxLength(63)
  runtimeId!: string;

  @Field()
  @IsString()
  @MaxLength(63)
  @Matches(/^[a-z]([-a-z0-9]*[a-z0-9])?$/, {
    message: 'must be lowercase letters, digits and dashes, starting with a letter',
  })
  versionName!: string;
}

@ObjectType({
  description:
    "One replica's resource use as the deployer last sampled it (every 15 s): the series over time are the measurement `kre_replica_resources` (query `measurements`, tags `workload` and `replica`).",
})
export class ReplicaResources {
  @Field({ description: '`entrypoint` or `<workflow>.<node>`.' })
  workload!: string;

  @Field(() => Int)
  replica!: number;

  @Field({ description: 'STARTING, RUNNING, RESTARTING or STOPPED.' })
  state!: string;

  @Field(() => Int)
  restarts!: number;

  @Field(() => Float, {
    nullable: true,
    description: 'CPU in cores since the previous sample; null on the first, or where unknown.',
  })
  cpuCores!: number | null;

  @Field(() => Float, { nullable: true, description: 'Memory in bytes; null where unknown.' })
  memoryBytes!: number | null;

  @Field({ description: 'When it was sampled.' })
  sampledAt!: Date;

  @Field({
    description:
      'Where the figures come from: `cgroup` or `proc` (local driver), `metrics-api` (Kubernetes), `unavailable` (a cluster without a metrics API: restarts only).',
  })
  source!: string;
}
