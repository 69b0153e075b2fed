import { RuntimeRole } from '@libs/core';
import { Args, Query, Resolver } from '@nestjs/graphql';
import { RequireRuntimeRole } from '../auth/access.decorators.js';
import { ClassificationMetricsService } from './classification-metrics.service.js';
import { MeasurementsService } from './measurements.service.js';
import { MeasurementsArgs, MetricsArgs, NodeMetricsArgs } from './metrics.inputs.js';
import { MeasurementPoint, Metrics, NodeMetrics } from './metrics.model.js';
import { NodeMetricsService } from './node-metrics.service.js';

/** A version's metrics, from what its workloads recorded (members of the runtime). */
@Resolver()
export class MetricsResolver {
  constructor(
    private readonly classification: ClassificationMetricsService,
    private readonly nodeMetricsService: NodeMetricsService,
    private readonly measurementsService: MeasurementsService,
  ) {}

  @Query(() => Metrics, {
    nullable: true,
    description:
      "KRE's classification metrics from the version's saved predictions; null when none was classified.",
  })
  @RequireRuntimeRole(RuntimeRole.VIEWER, 'runtimeId')
  metrics(@Args() args: MetricsArgs): Promise<Metrics | null> {
    return this.classification.metrics(
      args.runtimeId,
      args.versionName,
      args.startDate,
      args.endDate ?? undefined,
    );
  }

  @Query(() => [NodeMetrics], {
    description: "Each node's requests, errors and latency percentiles per bucket.",
  })
  @RequireRuntimeRole(RuntimeRole.VIEWER, 'runtimeId')
  nodeMetrics(@Args() args: NodeMetricsArgs): Promise<NodeMetrics[]> {
    return this.nodeMetricsService.series(
      args.runtimeId,
      args.versionName,
      args.from,
      args.to ?? undefined,
      args.bucket,
    );
  }

  @Query(() => [MeasurementPoint], {
    description: 'A custom measurement of the version (`measurement.save`), per bucket.',
  })
  @RequireRuntimeRole(RuntimeRole.VIEWER, 'runtimeId')
  measurements(@Args() args: MeasurementsArgs): Promise<MeasurementPoint[]> {
    return this.measurementsService.series(
      args.runtimeId,
      args.versionName,
      args.name,
      args.from,
      args.to ?? undefined,
      args.bucket,
      args.tags ?? [],
    );
  }
}
