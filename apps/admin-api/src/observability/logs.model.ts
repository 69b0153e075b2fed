import { Field, ID, ObjectType, registerEnumType } from '@nestjs/graphql';

export enum LogLevel {
  DEBUG = 'DEBUG',
  INFO = 'INFO',
  WARN = 'WARN',
  ERROR = 'ERROR',
}
registerEnumType(LogLevel, { name: 'LogLevel' });

@ObjectType({ description: 'One log line of a workload (a node or the entrypoint).' })
export class NodeLog {
  @Field(() => ID, {
    nullable: true,
    description:
      "The record's id, made by its producer: the same on a live line (watchNodeLogs) and once stored. A record without one (an older runner) has its sequence in the runtime's observability stream once stored, and null live.",
  })
  id!: string | null;
  @Field() date!: Date;
  @Field(() => LogLevel) level!: LogLevel;
  @Field() message!: string;
  @Field() versionName!: string;
  @Field(() => String, { nullable: true, description: 'Null for the entrypoint.' })
  workflowName!: string | null;
  @Field({ description: 'The node id, or `entrypoint`.' }) nodeName!: string;
  @Field({ description: 'The process that logged it.' }) replica!: string;
  @Field(() => String, { nullable: true }) requestId!: string | null;
  @Field({
    description:
      "LOGGER, STDOUT, STDERR, RUNNER (the runner itself), DEPLOYER (a version's steps, a replica's crash and restart) ENTRYPOINT (a request the entrypoint failed) or INGESTION (records the stream dropped before they were stored).",
  })
  source!: string;
  @Field(() => String, {
    nullable: true,
    description: 'Structured fields of the line as a JSON object text.',
  })
  fields!: string | null;
}

@ObjectType()
export class LogPage {
  @Field(() => [NodeLog], { description: 'Newest first.' }) items!: NodeLog[];
  @Field(() => String, {
    nullable: true,
    description: 'Pass it back for older lines; null on the last page.',
  })
  cursor!: string | null;
}
