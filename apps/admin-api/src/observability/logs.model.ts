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
      "The record's sequence in the runtime's observability stream; null on a live line (watchNodeLogs), which gets it only when stored.",
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
  @Field({ description: 'LOGGER, STDOUT, STDERR or RUNNER.' }) source!: string;
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
