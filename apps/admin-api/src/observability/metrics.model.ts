import { Field, Float, Int, ObjectType } from '@nestjs/graphql';

@ObjectType({ description: 'One bucket of a node: requests handled, errors, latency.' })
export class NodeMetricPoint {
  @Field({ description: 'Start of the bucket.' }) date!: Date;
  @Field(() => Int) requests!: number;
  @Field(() => Int) errors!: number;
  @Field(() => Float, { nullable: true, description: 'ms, from the histograms.' })
  latencyP50Ms!: number | null;
  @Field(() => Float, { nullable: true }) latencyP95Ms!: number | null;
  @Field(() => Float, { nullable: true }) latencyP99Ms!: number | null;
  @Field(() => Float, { nullable: true }) latencyMeanMs!: number | null;
  @Field(() => Float, { nullable: true }) latencyMaxMs!: number | null;
}

@ObjectType({
  description: "A node's (or the entrypoint's) series; buckets without requests are left out.",
})
export class NodeMetrics {
  @Field(() => String, { nullable: true, description: 'Null for the entrypoint.' })
  workflowName!: string | null;
  @Field() nodeName!: string;
  @Field(() => [NodeMetricPoint]) points!: NodeMetricPoint[];
}

@ObjectType({ description: 'A numeric field of a measurement over one bucket.' })
export class MeasurementFieldStats {
  @Field() name!: string;
  @Field(() => Int) count!: number;
  @Field(() => Float) sum!: number;
  @Field(() => Float) mean!: number;
  @Field(() => Float) min!: number;
  @Field(() => Float) max!: number;
}

@ObjectType({ description: 'The points of a measurement in one bucket.' })
export class MeasurementPoint {
  @Field({ description: 'Start of the bucket.' }) date!: Date;
  @Field(() => Int) count!: number;
  @Field(() => [MeasurementFieldStats], {
    description: 'Numeric and boolean (1/0) fields; text fields are not aggregated.',
  })
  fields!: MeasurementFieldStats[];
}

@ObjectType()
export class MetricsAccuracy {
  @Field(() => Int) total!: number;
  @Field(() => Int) micro!: number;
  @Field(() => Int) macro!: number;
  @Field(() => Int) weighted!: number;
}

@ObjectType()
export class MetricsValues {
  @Field(() => MetricsAccuracy) accuracy!: MetricsAccuracy;
  @Field(() => Int, { description: '% of predictions with missing values.' }) missing!: number;
  @Field(() => Int, { description: '% of predictions with new labels.' }) newLabels!: number;
}

@ObjectType()
export class MetricChartData {
  @Field() x!: string;
  @Field() y!: string;
  @Field(() => String, { nullable: true }) z!: string | null;
}

@ObjectType()
export class MetricsCharts {
  @Field(() => [MetricChartData], {
    description: 'x = predicted, y = true, z = % of the true class (row-normalised).',
  })
  confusionMatrix!: MetricChartData[];
  @Field(() => [MetricChartData], { description: 'x = %, y = class.' })
  seriesAccuracy!: MetricChartData[];
  @Field(() => [MetricChartData], { description: 'x = %, y = class.' })
  seriesRecall!: MetricChartData[];
  @Field(() => [MetricChartData], { description: 'x = count, y = class.' })
  seriesSupport!: MetricChartData[];
  @Field(() => [MetricChartData], {
    description: 'x = bucket label, y = % correct ("" for an empty bucket).',
  })
  successVsFails!: MetricChartData[];
}

@ObjectType({ description: "KRE's classification metrics from a version's saved predictions." })
export class Metrics {
  @Field(() => MetricsValues) values!: MetricsValues;
  @Field(() => MetricsCharts) charts!: MetricsCharts;
}
