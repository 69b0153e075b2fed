import { type DynamicModule, Module } from '@nestjs/common';
import { Names } from '@libs/naming';
import {
  DEFAULT_TRACE_RELAY,
  TRACE_RELAY_OPTIONS,
  type TraceRelayOptions,
  TraceRelayService,
} from './trace-relay.service.js';

/**
 * The workloads' trace relay: imported only when mongo-writer has an OTLP endpoint (without one
 * nothing subscribes, and the workloads, which the deployer then gives no traces subject, make
 * no spans).
 */
@Module({})
export class TraceRelayModule {
  static forRoot(
    names: Names,
    options: Pick<TraceRelayOptions, 'url'> & Partial<TraceRelayOptions>,
  ): DynamicModule {
    return {
      module: TraceRelayModule,
      providers: [
        { provide: Names, useValue: names },
        { provide: TRACE_RELAY_OPTIONS, useValue: { ...DEFAULT_TRACE_RELAY, ...options } },
        TraceRelayService,
      ],
      exports: [TraceRelayService],
    };
  }
}
