import { RuntimeRole } from '@libs/core';
import { Args, Query, Resolver, Subscription } from '@nestjs/graphql';
import { RequireRuntimeRole } from '../auth/access.decorators.js';
import { LogTailService } from './log-tail.service.js';
import { LogsArgs, WatchNodeLogsArgs } from './logs.inputs.js';
import { LogPage, NodeLog } from './logs.model.js';
import { LogsService } from './logs.service.js';

@Resolver(() => NodeLog)
export class LogsResolver {
  constructor(
    private readonly logsService: LogsService,
    private readonly tail: LogTailService,
  ) {}

  @Query(() => LogPage, {
    description:
      "The runtime's log lines in a range, newest first; `cursor` pages to older lines (members of the runtime).",
  })
  @RequireRuntimeRole(RuntimeRole.VIEWER, 'runtimeId')
  logs(@Args() args: LogsArgs): Promise<LogPage> {
    return this.logsService.page(
      args.runtimeId,
      args.filters,
      args.cursor ?? undefined,
      args.limit,
    );
  }

  @Subscription(() => NodeLog, {
    description: "A version's log lines as they are logged, filtered (members of the runtime).",
    resolve: (line: NodeLog) => line,
  })
  @RequireRuntimeRole(RuntimeRole.VIEWER, 'runtimeId')
  watchNodeLogs(@Args() args: WatchNodeLogsArgs): AsyncIterableIterator<NodeLog> {
    return this.tail.follow(args.runtimeId, args.versionName, args.filters ?? {});
  }
}
