import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { ClassificationMetricsService } from './classification-metrics.service.js';
import { LogTailService } from './log-tail.service.js';
import { LogsResolver } from './logs.resolver.js';
import { LogsService } from './logs.service.js';
import { MeasurementsService } from './measurements.service.js';
import { MetricsResolver } from './metrics.resolver.js';
import { NodeMetricsService } from './node-metrics.service.js';
import { RetentionResolver } from './retention.resolver.js';
import { RetentionService } from './retention.service.js';
import { ObsRecordsRepository } from './obs-records.repository.js';
import { ReplicaResourcesResolver } from './replica-resources.resolver.js';
import { ReplicaResourcesService } from './replica-resources.service.js';

/**
 * A runtime's logs, metrics, predictions and measurements as mongo-writer stored them (queries),
 * its logs live from NATS (subscription), and its retention (docs/observability.md).
 */
@Module({
  imports: [AuditModule],
  providers: [
    ObsRecordsRepository,
    LogsService,
    LogTailService,
    LogsResolver,
    ClassificationMetricsService,
    NodeMetricsService,
    MeasurementsService,
    MetricsResolver,
    ReplicaResourcesService,
    ReplicaResourcesResolver,
    RetentionService,
    RetentionResolver,
  ],
})
export class ObservabilityModule {}
