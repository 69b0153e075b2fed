import { setTimeout as delay } from 'node:timers/promises';
import { Inject, Injectable } from '@nestjs/common';
import type { VersionRef } from '@libs/jobs';
import { GatewayRoutes, WorkloadIdentities } from '@libs/messaging';
import {
  ENTRYPOINT_WORKLOAD,
  type DeploymentPlan,
  type OrchestratorDriver,
} from '@libs/orchestrator';
import { UnrecoverableError } from 'bullmq';
import { DEPLOYER_ENV, type DeployerEnv } from './deployer.env.js';
import { ORCHESTRATOR_DRIVER } from './orchestrator.provider.js';
import type { Progress } from './version-deployment.service.js';

/** How long gateways get to hear a route without the entrypoint replicas about to stop. */
export const ROUTE_DRAIN_MS = 1_000;

/**
 * A version's workloads and how clients reach them: the orchestrator driver (apply, readiness,
 * stop, publish at the orchestrator's level), the version's NATS identity (issued before its
 * workloads run, revoked when they stop) and the gateway's routes, kept in step.
 */
@Injectable()
export class VersionWorkloads {
  constructor(
    private readonly routes: GatewayRoutes,
    private readonly identities: WorkloadIdentities,
    @Inject(ORCHESTRATOR_DRIVER) private readonly driver: OrchestratorDriver,
    @Inject(DEPLOYER_ENV) private readonly env: DeployerEnv,
  ) {}

  /**
   * Converges the workloads to `plan` and waits until every replica is ready. `krtSha256`: the
   * digest of a KRT copy just stored (else the one pinned at the version's start holds).
   */
  async roll(
    plan: DeploymentPlan,
    progress: Progress,
    step = 'apply',
    krtSha256?: string,
  ): Promise<void> {
    await progress(step);
    const pins = await this.identities.pin(plan.resources, krtSha256);
    await this.narrowRoute(plan);
    await this.driver.apply({ ...plan, pins });
    await progress('wait-ready');
    await this.driver.waitReady(
      plan.runtimeId,
      plan.versionName,
      this.env.WORKLOAD_READY_TIMEOUT_SECONDS * 1_000,
    );
    // Every entrypoint replica serves: gateways spread calls over them all (no route yet: a
    // start's `run` makes it next).
    const endpoints = await this.driver.endpoints(plan.runtimeId, plan.versionName);
    if (endpoints) await this.routes.setEndpoints(plan.runtimeId, plan.versionName, endpoints);
  }

  /**
   * Before `plan` stops entrypoint replicas (autoscaling down), the route lists only those that
   * stay, and gateways get ROUTE_DRAIN_MS to hear it: no new call goes to a replica that ends
   * (it finishes the calls it has, docs/lifecycle.md "Autoscaling").
   */
  private async narrowRoute(plan: DeploymentPlan): Promise<void> {
    const wanted = plan.workloads.find((w) => w.id === ENTRYPOINT_WORKLOAD)?.replicas ?? 1;
    const now = await this.driver.endpoints(plan.runtimeId, plan.versionName);
    if (!now?.replicas || now.replicas.length <= wanted) return;
    const kept = now.replicas.slice(0, Math.max(1, wanted));
    await this.routes.setEndpoints(plan.runtimeId, plan.versionName, {
      ...kept[0],
      replicas: kept,
    });
    await delay(ROUTE_DRAIN_MS);
  }

  /**
   * A sleeping version's workloads onto `plan` without waking it (a config change while asleep):
   * nothing runs, and the next wake starts this plan.
   */
  async applyAsleep(plan: DeploymentPlan, progress: Progress, step = 'apply'): Promise<void> {
    await progress(step);
    const pins = await this.identities.pin(plan.resources);
    await this.driver.apply({ ...plan, pins }, { released: true });
  }

  /** Runs `plan` and routes the version's own address (`<rt>.<ver>`) to its entrypoint. */
  async run(plan: DeploymentPlan, progress: Progress, krtSha256: string): Promise<void> {
    await this.roll(plan, progress, 'apply', krtSha256);
    await progress('route');
    const endpoints = await this.driver.endpoints(plan.runtimeId, plan.versionName);
    if (!endpoints) throw new Error('the entrypoint reported no endpoints');
    await this.routes.addVersion(plan.runtimeId, plan.versionName, endpoints);
  }

  /** How many replicas of the version the driver has (scale to zero's `replicas`). */
  async replicas(ref: Pick<VersionRef, 'runtimeId' | 'versionName'>): Promise<number> {
    return (await this.driver.status(ref.runtimeId, ref.versionName)).length;
  }

  /** Takes the version's routes away, then stops its workloads (idempotent). */
  async stop(ref: VersionRef, progress?: Progress): Promise<void> {
    await progress?.('remove-routes');
    await this.routes.removeVersion(ref.runtimeId, ref.versionName);
    await this.stopWorkloads(ref, progress);
  }

  /** Stops the workloads alone (a start that failed made no route), then revokes their identity. */
  async stopWorkloads(ref: VersionRef, progress?: Progress): Promise<void> {
    await progress?.('stop-workloads');
    await this.driver.stop(ref.runtimeId, ref.versionName);
    await this.identities.revoke(ref.runtimeId, ref.versionName);
  }

  /** Makes the version the runtime's published one, at the orchestrator and the gateway. */
  async publish(ref: VersionRef, progress: Progress): Promise<void> {
    const endpoints = await this.driver.endpoints(ref.runtimeId, ref.versionName);
    if (!endpoints)
      throw new UnrecoverableError('the version has no running entrypoint to publish');
    await progress('switch-route');
    await this.driver.publish(ref.runtimeId, ref.versionName);
    await this.routes.publish(ref.runtimeId, ref.versionName, endpoints);
  }

  async unpublish(ref: VersionRef, progress: Progress): Promise<void> {
    await progress('remove-route');
    await this.routes.unpublish(ref.runtimeId, ref.versionName);
    await this.driver.unpublish(ref.runtimeId, ref.versionName);
  }
}
