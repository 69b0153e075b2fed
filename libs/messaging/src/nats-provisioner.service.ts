import type { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Names } from '@libs/naming';
import { NATS_CONNECTION } from './nats.module.js';
import {
  provisionRuntimeNatsResources,
  provisionVersionResources,
  planRuntimeNatsResources,
  removeRuntimeNatsResources,
  removeVersionResources,
  removeVersionStreams,
  storeVersionKrt,
  type RuntimeNatsResources,
  type VersionResources,
} from './version-resources.js';
import {
  updateObservabilityStreamLimits,
  type ObservabilityStreamLimits,
} from './workflow-streams.js';

/**
 * The deployer's hands on NATS: every create and delete of a version's or a runtime's NATS
 * resources, bound to the app's connection, so the deployer itself holds no NATS client.
 */
@Injectable()
export class NatsProvisioner {
  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    private readonly names: Names,
  ) {}

  private jsm?: Promise<JetStreamManager>;

  /**
   * A node consumer's backlog (node autoscaling): messages not yet delivered (`num_pending`),
   * delivered but not acknowledged (`num_ack_pending`), and the deliveries acknowledged so far
   * (`ack_floor.consumer_seq`, whose growth is the replicas' pace).
   */
  async consumerBacklog(
    stream: string,
    consumer: string,
  ): Promise<{ pending: number; ackPending: number; acked: number }> {
    this.jsm ??= jetstreamManager(this.nc);
    const info = await (await this.jsm).consumers.info(stream, consumer);
    return {
      pending: info.num_pending,
      ackPending: info.num_ack_pending,
      acked: info.ack_floor.consumer_seq,
    };
  }

  provisionVersion(resources: VersionResources): Promise<void> {
    return provisionVersionResources(this.nc, resources);
  }

  /** Stores the version's KRT copy; its sha256 (hex). */
  storeKrt(resources: VersionResources, archive: Readable): Promise<string> {
    return storeVersionKrt(this.nc, resources.krt, archive);
  }

  /** What `stop` removes: the streams (KV buckets and object stores stay with the version). */
  removeVersionStreams(resources: VersionResources): Promise<void> {
    return removeVersionStreams(this.nc, resources);
  }

  /** What `delete` removes: everything of the version, its KRT copy included. */
  removeVersion(resources: VersionResources): Promise<void> {
    return removeVersionResources(this.nc, resources);
  }

  /** The runtime's observability stream, with its quota's limits. */
  provisionRuntime(
    runtimeId: string,
    obs: ObservabilityStreamLimits = {},
  ): Promise<RuntimeNatsResources> {
    return provisionRuntimeNatsResources(this.nc, this.names, runtimeId, obs);
  }

  /** New limits for the runtime's observability stream; false when it does not exist. */
  async updateObservabilityLimits(
    runtimeId: string,
    limits: Required<ObservabilityStreamLimits>,
  ): Promise<boolean> {
    this.jsm ??= jetstreamManager(this.nc);
    return updateObservabilityStreamLimits(await this.jsm, this.names, runtimeId, limits);
  }

  async removeRuntime(runtimeId: string): Promise<RuntimeNatsResources> {
    const resources = planRuntimeNatsResources(this.names, runtimeId);
    await removeRuntimeNatsResources(this.nc, resources);
    return resources;
  }
}
